# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration harness: a simulated lab per test on free loopback ports, playbooks run for real.

Each test gets its own lab (state and datastore files in its own temporary directory, HTTPS
servers on OS-assigned ports, certificates from a lab CA that the modules verify), so tests run
in parallel (pytest-xdist) and never see each other's changes. Playbooks run through
``ansible-playbook`` exactly as a user runs them; assertions live in the playbooks (``assert``
tasks) and, where the files on the simulated datastore matter, in the test itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from simulators.pki import ensure_lab_ca  # noqa: E402  (needs the repository root on sys.path)
from simulators.tintri import TintriLab  # noqa: E402

from . import configmgr_fixtures, psrp_fixtures, s3_fixtures  # noqa: E402

# The S3 fixtures live in their own module; naming them here makes pytest offer them to every test.
moto_s3 = s3_fixtures.moto_s3
s3_proxy = s3_fixtures.s3_proxy
s3_server = s3_fixtures.s3_server
# Likewise the PowerShell remoting (VMM/SCOM) fixtures.
psrp_server = psrp_fixtures.psrp_server
vmm_lab = psrp_fixtures.vmm_lab
# And the ConfigMgr AdminService fixtures.
configmgr_server = configmgr_fixtures.configmgr_server
configmgr_lab = configmgr_fixtures.configmgr_lab
configmgr_site_psrp = configmgr_fixtures.configmgr_site_psrp
configmgr_psrp_lab = configmgr_fixtures.configmgr_psrp_lab

INTEGRATION = Path(__file__).resolve().parent
COLLECTIONS = ROOT / ".tmp" / "collections"
TASK_SECONDS = 0.4


def ensure_collection_link():
    subprocess.run([sys.executable, str(ROOT / "tests" / "harness" / "stage_collection.py"), "link"],
                   check=True, capture_output=True)


@pytest.fixture(scope="session")
def lab_pki(tmp_path_factory):
    ensure_collection_link()
    return ensure_lab_ca(tmp_path_factory.mktemp("pki"))


class Lab:
    """A running simulated lab plus what playbooks need to reach it."""

    def __init__(self, tintri, pki, workdir):
        self.tintri = tintri
        self.pki = pki
        self.workdir = workdir
        self.endpoints = tintri.endpoints
        self.s3 = None
        self.passwords = sorted({e["password"] for e in self.endpoints.values()}
                                | {e.get("readonly_password") for e in self.endpoints.values() if e.get("readonly_password")})

    def admin(self, name):
        return self.tintri.admin(name)

    def attach_s3(self, endpoint):
        """Hand an S3 endpoint to playbooks (as lab_s3); its secret joins the secrets checked in output."""
        self.s3 = endpoint
        self.passwords = sorted(set(self.passwords) | {endpoint["secret_key"]})

    def vars(self):
        data = dict(lab_ca_path=str(self.pki.ca_path), lab_tintri=self.endpoints, lab_workdir=str(self.workdir))
        if self.s3:
            data["lab_s3"] = dict(self.s3)
        return data

    def vars_file(self, extra=None):
        data = self.vars()
        data.update(extra or {})
        path = self.workdir / "lab_vars.json"
        path.write_text(json.dumps(data))
        return path


@pytest.fixture
def lab(lab_pki, tmp_path):
    tintri = TintriLab(tmp_path / "state", pki=lab_pki, task_seconds=TASK_SECONDS)
    tintri.start()
    try:
        yield Lab(tintri, lab_pki, tmp_path)
    finally:
        tintri.stop()


class PlaybookResult:
    def __init__(self, completed, passwords):
        self.rc = completed.returncode
        self.output = completed.stdout + completed.stderr
        self.passwords = passwords

    def tail(self, lines=80):
        return "\n".join(self.output.splitlines()[-lines:])

    def assert_ok(self):
        assert self.rc == 0, self.tail()
        self.assert_no_secrets()
        return self

    def assert_failed(self):
        assert self.rc != 0, self.tail()
        self.assert_no_secrets()
        return self

    def assert_no_secrets(self):
        for password in self.passwords:
            assert password not in self.output, "a lab password appears in the playbook output"


def ansible_environment(lab, extra=None):
    """The environment Ansible's command-line tools run with: this collection, the lab's own directories."""
    environment = dict(os.environ)
    environment.update({
        "ANSIBLE_CONFIG": str(INTEGRATION / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_LOCAL_TEMP": str(lab.workdir / "ansible-tmp"),
        "ANSIBLE_HOME": str(lab.workdir / "ansible-home"),
        "ANSIBLE_FORCE_COLOR": "0",
        "VMOPS_AUDIT_DIR": str(lab.workdir / "audit"),
    })
    environment.update(extra or {})
    return environment


@pytest.fixture
def ansible(lab):
    """Run a playbook against the lab: ansible(playbook, extra_vars=None, check=False, verbosity=0, args=())."""

    def run(playbook, extra_vars=None, check=False, diff=False, verbosity=0, args=(), env=None, inventory=None):
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook),
               "-e", "@%s" % lab.vars_file(extra_vars)]
        if inventory:
            cmd += ["-i", str(inventory)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        cmd += list(args)
        completed = subprocess.run(cmd, cwd=str(ROOT), env=ansible_environment(lab, env), capture_output=True, text=True,
                                   timeout=900, check=False)
        return PlaybookResult(completed, lab.passwords)

    return run


@pytest.fixture
def s3_lab(lab, s3_server):  # noqa: F811  (the fixture, not the import)
    """The Tintri lab plus an S3 server, both handed to playbooks."""
    lab.attach_s3(s3_server.endpoint)
    lab.s3_server = s3_server
    return lab


RUN_TARGET = INTEGRATION / "run_target.yml"
