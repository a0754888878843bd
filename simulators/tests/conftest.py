"""Fixtures: labs on loopback HTTPS, clients that verify TLS against the lab CA."""

from __future__ import annotations

import copy
import time

import pytest
import requests

from simulators.pki import ensure_lab_ca
from simulators.tintri import TintriLab
from simulators.tintri.seed import load_description

CRED_TYPE = "com.tintri.api.rest.vcommon.dto.rbac.RestApiCredentials"
SMALL = "256KiB"


class Client:
    """A tiny REST client: cookie session, per-request verify (REQUESTS_CA_BUNDLE would override
    Session.verify), JSON helpers and task polling."""

    def __init__(self, endpoint: dict, ca_path: str):
        self.endpoint = endpoint
        self.base = endpoint["url"] + "/api"
        self.ca = ca_path
        self.s = requests.Session()

    def req(self, method, path, **kw):
        kw.setdefault("timeout", 30)
        return self.s.request(method, self.base + path, verify=self.ca, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, json=body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def login(self, username=None, password=None):
        r = self.post("/v310/session/login", {
            "typeId": CRED_TYPE, "username": username or self.endpoint["username"],
            "password": password or self.endpoint["password"], "newPassword": None, "roles": None,
        })
        assert r.status_code == 200, r.text
        return self

    def ok(self, method, path, status=200, **kw):
        r = self.req(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def vm_by_name(self, name, live=True):
        page = self.ok("GET", "/v310/vm", params={"name": name, "live": "TRUE" if live else "BOTH"})
        hits = [v for v in page["items"] if v["vmware"]["name"] == name]
        assert hits, f"no VM {name}"
        return hits[0]

    def wait_task(self, task_id, timeout=30, seen=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            t = self.ok("GET", f"/v310/task/{task_id}")
            if seen is not None:
                seen.append((t["state"], t["progressPercent"]))
            if t["jobDone"]:
                return t
            time.sleep(0.03)
        raise AssertionError(f"task {task_id} did not finish")


def shrink(desc: dict, size: str = SMALL) -> dict:
    """The default lab with small disks, so labs start in a fraction of a second."""
    desc = copy.deepcopy(desc)
    for vs in (desc.get("vmstores") or {}).values():
        for vm in vs.get("vms") or []:
            for d in vm.get("disks") or []:
                d["size"] = size
    return desc


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return ensure_lab_ca(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def default_desc():
    return load_description(None)


@pytest.fixture
def small_desc(default_desc):
    return shrink(default_desc)


@pytest.fixture
def make_lab(tmp_path, pki):
    labs = []

    def make(description=None, state_dir=None, **kw):
        kw.setdefault("task_seconds", 0.3)
        lab = TintriLab(state_dir or tmp_path / f"lab{len(labs)}", description, pki, **kw)
        lab.start()
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.stop()


@pytest.fixture
def lab(make_lab, small_desc):
    return make_lab(small_desc)


@pytest.fixture
def client(lab):
    def make(name="vmstore1", login=True):
        c = Client(lab.endpoints[name], lab.pki.ca_path)
        return c.login() if login else c
    return make
