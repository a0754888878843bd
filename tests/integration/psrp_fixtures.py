# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PowerShell remoting fixtures for the integration suite (wired as attributes in conftest.py).

* ``psrp_server`` — a fresh WS-Man/PSRP simulator per test (``simulators.psrp.PsrpServer``) on an
  OS-assigned loopback port, HTTPS with the lab certificate (``lab_pki``), Basic authentication
  with its own generated password, answering every catalogue operation from the VMM and SCOM
  state models of the default lab (state in ``tmp_path/psrp``). ``psrp_server.vmm`` and
  ``psrp_server.scom`` are the models; ``psrp_server.endpoint`` is the dict to hand to playbooks
  (as ``lab_psrp``): server, port, ssl, auth, encryption, username, password, ca_path;
  ``psrp_server.env`` the same as the ``VMOPS_PSRP_*`` environment variables a user (or an AWX
  credential) sets for the modules and the vmm inventory plugin.
* ``start_psrp_server(lab_pki, state, site_model=None)`` — the same server started by hand; with a
  ConfigMgr ``SiteModel`` its ConfigMgr operations act on that site (``configmgr_fixtures``).
* ``vmm_lab`` — the Tintri ``lab`` plus ``psrp_server``: its password joins the secrets the
  harness looks for in playbook output, and ``vmm_lab.extra_vars`` carries ``lab_psrp``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulators.psrp import Dispatcher, PsrpServer  # noqa: E402  (needs the repository root on sys.path)
from simulators.psrp import handlers, scom_model, vmm_model  # noqa: E402

__all__ = ["psrp_server", "start_psrp_server", "vmm_lab"]

# Simulated VMM jobs take this long, so waits are real but short.
JOB_SECONDS = 0.3


def start_psrp_server(lab_pki, state, site_model=None):
    """A started PsrpServer over the default VMM/SCOM lab in ``state``; stop it when done."""
    description = vmm_model.load_description()
    vmm = vmm_model.VmmModel(state, description,
                             job_seconds={k: JOB_SECONDS for k in vmm_model.DEFAULT_JOB_SECONDS})
    scom = scom_model.ScomModel(state, description)
    dispatcher = Dispatcher()
    handlers.register_all(dispatcher, vmm, scom, site_model)
    server = PsrpServer(dispatcher=dispatcher, pki=lab_pki)
    server.start()
    server.vmm = vmm
    server.scom = scom
    server.endpoint_vars = dict(server="localhost", port=server.port, ssl=True, auth="basic", encryption="auto",
                                username=server.username, password=server.password, ca_path=str(lab_pki.ca_path))
    server.env = dict(("VMOPS_PSRP_" + key.upper(), str(value)) for key, value in server.endpoint_vars.items())
    return server


@pytest.fixture
def psrp_server(lab_pki, tmp_path):
    server = start_psrp_server(lab_pki, tmp_path / "psrp")
    try:
        yield server
    finally:
        server.stop()


class VmmLab:
    def __init__(self, lab, server):
        self.lab = lab
        self.server = server
        self.endpoint = dict(server.endpoint_vars)
        lab.passwords = sorted(set(lab.passwords) | {server.password})

    def extra_vars(self, **more):
        data = dict(lab_psrp=self.endpoint)
        data.update(more)
        return data


@pytest.fixture
def vmm_lab(lab, psrp_server):
    return VmmLab(lab, psrp_server)
