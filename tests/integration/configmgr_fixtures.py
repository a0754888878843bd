# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ConfigMgr fixtures for the integration suite (wired as attributes in conftest.py).

* ``configmgr_server`` — a fresh AdminService simulator per test (``simulators.configmgr.ConfigMgrServer``)
  on an OS-assigned loopback port, HTTPS with the lab certificate (``lab_pki``), the default lab site, short
  evaluation/installation/restart times, state in ``tmp_path/configmgr``, a page size of 4 so listings page.
* ``configmgr_lab`` — the Tintri ``lab`` plus ``configmgr_server``: its passwords join the secrets the harness
  looks for in playbook output, and ``configmgr_lab.extra_vars`` carries ``lab_configmgr`` (hostname,
  username, password, readonly_username, readonly_password, ca_path, admin_url: the simulator's /_sim API for
  fault injection, which a real site does not have).
* ``configmgr_site_psrp`` — a PSRP simulator (the site server's PowerShell remoting) whose ConfigMgr operations act on
  ``configmgr_server``'s site model, so a deployment created through the ConfigurationManager cmdlets shows in the
  AdminService; ``configmgr_psrp_lab`` is ``configmgr_lab`` plus ``lab_configmgr_psrp`` (its connection: server,
  port, ssl, auth, encryption, username, password, ca_path) and its password among the secrets looked for.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulators.configmgr import ConfigMgrServer  # noqa: E402  (needs the repository root on sys.path)

from .psrp_fixtures import start_psrp_server  # noqa: E402

__all__ = ["configmgr_lab", "configmgr_psrp_lab", "configmgr_server", "configmgr_site_psrp"]

TIMINGS = {"evaluation_seconds": 0.5, "download_seconds": 0.3, "install_seconds": 0.3, "reboot_seconds": 0.5}


@pytest.fixture
def configmgr_server(lab_pki, tmp_path):
    server = ConfigMgrServer(tmp_path / "configmgr", lab_pki, page_size=4, timings=TIMINGS).start()
    try:
        yield server
    finally:
        server.stop()


class ConfigMgrLab:
    def __init__(self, lab, server, ca_path):
        self.lab = lab
        self.server = server
        ep = server.endpoints
        self.endpoint = dict(hostname=ep["hostname"], username=ep["username"], password=ep["password"],
                             readonly_username=ep["readonly_username"], readonly_password=ep["readonly_password"],
                             ca_path=str(ca_path), admin_url=ep["url"] + "/_sim")
        lab.passwords = sorted(set(lab.passwords) | set(server.passwords))

    def extra_vars(self, **more):
        data = dict(lab_configmgr=self.endpoint)
        data.update(more)
        return data


@pytest.fixture
def configmgr_lab(lab, configmgr_server, lab_pki):
    return ConfigMgrLab(lab, configmgr_server, lab_pki.ca_path)


@pytest.fixture
def configmgr_site_psrp(lab_pki, tmp_path, configmgr_server):
    server = start_psrp_server(lab_pki, tmp_path / "configmgr-psrp", site_model=configmgr_server.model)
    try:
        yield server
    finally:
        server.stop()


class ConfigMgrPsrpLab(ConfigMgrLab):
    def __init__(self, lab, server, ca_path, psrp):
        super().__init__(lab, server, ca_path)
        self.psrp = psrp
        self.psrp_endpoint = dict(psrp.endpoint_vars)
        lab.passwords = sorted(set(lab.passwords) | {psrp.password})

    def extra_vars(self, **more):
        return super().extra_vars(lab_configmgr_psrp=self.psrp_endpoint, **more)


@pytest.fixture
def configmgr_psrp_lab(lab, configmgr_server, configmgr_site_psrp, lab_pki):
    return ConfigMgrPsrpLab(lab, configmgr_server, lab_pki.ca_path, configmgr_site_psrp)
