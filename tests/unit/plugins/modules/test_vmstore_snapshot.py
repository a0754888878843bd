# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import requests

from ansible_collections.vmops.datacenter.plugins.modules import vmstore_snapshot
from ansible_collections.vmops.datacenter.tests.unit.framework.rest_registry import page
from ansible_collections.vmops.datacenter.tests.unit.framework.tintri_objects import snap_id, snapshot, vm, vm_id

LIST = "/api/v310/snapshot"
BY_NAME = {"contain": "before-patch", "sortedBy": "createTime", "sortOrder": "DESC"}
ARGS = dict(vm="prod-sql01", name="before-patch")


def test_existing_snapshot_is_a_noop_in_four_requests(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=BY_NAME, json=page([
        snapshot("before-patch", n=2, vm_name="prod-sql01"),
        snapshot("before-patch", n=3, vm_name="prod-sql011"),   # substring match on the VM name: not ours
    ]))
    api.expect_logout()
    result = run_module(vmstore_snapshot, ARGS)
    assert result["changed"] is False
    assert result["snapshot"]["uuid"] == snap_id(2)
    assert len(api.made) == 4


def test_creates_with_canonical_spec_then_reads_it_back(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=BY_NAME, json=page([]))
    api.expect("GET", "/api/v310/vm", params={"name": "prod-sql01", "live": "TRUE"},
               json=page([vm("prod-sql01", n=1), vm("prod-sql01-old", n=9)]))
    api.expect("POST", LIST, json=[snap_id(7)], body=[{
        "typeId": "com.tintri.api.rest.v310.dto.domain.beans.snapshot.SnapshotSpec",
        "sourceVmTintriUUID": vm_id(1), "snapshotName": "before-patch", "consistency": "VM_CONSISTENT",
        "retentionMinutes": 120}])
    api.expect("GET", "/api/v310/snapshot/%s" % snap_id(7), json=snapshot("before-patch", n=7))
    api.expect_logout()
    result = run_module(vmstore_snapshot, dict(ARGS, consistency="vm_consistent", retention_minutes=120), diff=True)
    assert result["changed"] is True
    assert result["snapshot"]["uuid"] == snap_id(7)
    assert result["diff"]["before"] == {"state": "absent"}
    assert result["diff"]["after"]["consistency"] == "VM_CONSISTENT"


def test_check_mode_plans_and_does_not_post(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=BY_NAME, json=page([]))
    api.expect("GET", "/api/v310/vm", params={"name": "prod-sql01", "live": "TRUE"}, json=page([vm("prod-sql01")]))
    api.expect_logout()
    result = run_module(vmstore_snapshot, ARGS, check_mode=True)
    assert result["changed"] is True
    assert result["snapshot"]["uuid"] is None
    assert not api.calls("POST")[2:]  # only login and logout were POSTs


def test_dropped_create_is_probed_not_repeated(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=BY_NAME, json=page([]))
    api.expect("GET", "/api/v310/vm", params={"name": "prod-sql01", "live": "TRUE"}, json=page([vm("prod-sql01")]))
    api.expect_exception("POST", LIST, requests.exceptions.ConnectionError("Connection reset by peer"))
    # The snapshot was taken before the connection dropped: found, so no second POST.
    api.expect("GET", LIST, params=BY_NAME, json=page([snapshot("before-patch", n=8)]))
    api.expect("GET", "/api/v310/snapshot/%s" % snap_id(8), json=snapshot("before-patch", n=8))
    api.expect_logout()
    result = run_module(vmstore_snapshot, ARGS)
    assert result["changed"] is True and result["snapshot"]["uuid"] == snap_id(8)


def test_bad_retention_fails_before_any_request(api, run_module):
    result = run_module(vmstore_snapshot, dict(ARGS, retention_minutes=30))
    assert result["failed"] and "at least 60" in result["msg"]
    assert api.made == []


def test_unknown_vm_is_a_clear_error(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=dict(BY_NAME), json=page([]))
    api.expect("GET", "/api/v310/vm", params={"name": "prod-sql01", "live": "TRUE"}, json=page([vm("prod-sql01x")]))
    api.expect_logout()
    result = run_module(vmstore_snapshot, ARGS)
    assert result["failed"] and "No live VM named 'prod-sql01'" in result["msg"]


def test_tgc_is_refused_before_any_change_naming_the_vmstore(api, run_module):
    api.expect_session(product="Tintri Global Center")
    api.expect("GET", "/api/v310/vm", params={"name": "prod-sql01", "live": "TRUE"},
               json=page([vm("prod-sql01", vmstore="vmstore1.test:443")]))
    api.expect_logout()
    result = run_module(vmstore_snapshot, ARGS, check_mode=True)
    assert result["failed"]
    assert "Tintri Global Center" in result["msg"] and "vmstore1.test:443" in result["msg"]


def test_absent_deletes_every_snapshot_with_the_name(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=BY_NAME, json=page([snapshot("before-patch", n=2), snapshot("before-patch", n=3)]))
    api.expect("DELETE", "/api/v310/snapshot/%s" % snap_id(2), json="deleted")
    api.expect_error("DELETE", "/api/v310/snapshot/%s" % snap_id(3), 404, "ERR-API-8001", "not found")
    api.expect_logout()
    result = run_module(vmstore_snapshot, dict(ARGS, state="absent"))
    assert result["changed"] is True
    assert [d["uuid"] for d in result["deleted"]] == [snap_id(2), snap_id(3)]


def test_absent_refuses_snapshots_with_clones(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=BY_NAME, json=page([snapshot("before-patch", n=2, clones=1)]))
    api.expect_logout()
    result = run_module(vmstore_snapshot, dict(ARGS, state="absent"))
    assert result["failed"] and "clone" in result["msg"]
    assert not api.calls("DELETE")


def test_absent_when_missing_is_a_noop(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params={"vmUuid": vm_id(1), "sortedBy": "createTime", "sortOrder": "DESC"},
               json=page([snapshot("other", n=4)]))
    api.expect_logout()
    result = run_module(vmstore_snapshot, dict(vm_uuid=vm_id(1), uuid=snap_id(9), state="absent"))
    assert result["changed"] is False and result["deleted"] == []
