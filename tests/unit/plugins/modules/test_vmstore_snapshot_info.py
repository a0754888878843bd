# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.vmops.datacenter.plugins.modules import vmstore_snapshot_info
from ansible_collections.vmops.datacenter.tests.unit.framework.rest_registry import page
from ansible_collections.vmops.datacenter.tests.unit.framework.tintri_objects import snap_id, snapshot, vm, vm_id

LIST = "/api/v310/snapshot"
VMS = "/api/v310/vm"
TGC = "Tintri Global Center"
NEWEST_FIRST = {"sortedBy": "createTime", "sortOrder": "DESC"}
DAY = 86400000


def snapshot_disk(name, path):
    """An entry of GET /v310/snapshot/{id}/disks: only name and path are filled in."""
    return {"typeId": "com.tintri.api.rest.v310.dto.domain.VirtualDisk", "name": name, "path": path}


def test_latest_alone_comes_from_the_vm_in_four_requests(api, run_module):
    newest = snapshot("nightly", n=5, created=1763800000000 + DAY, kind="SCHEDULED_SNAPSHOT")
    api.expect_session()
    api.expect("GET", VMS, params={"name": "prod-sql01", "live": "TRUE"},
               json=page([vm("prod-sql01", n=1, latest=newest), vm("prod-sql01-old", n=2)]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm="prod-sql01", latest=True))
    assert result["changed"] is False
    assert [s["uuid"] for s in result["snapshots"]] == [snap_id(5)]
    assert result["snapshots"][0]["type"] == "SCHEDULED_SNAPSHOT"
    assert result["snapshots"][0]["create_time"] == "2025-11-23T08:26:40Z"
    assert result["snapshots"][0]["expiration_time"] is None    # -1: kept until deleted
    assert result["count"] == 1
    assert len(api.made) == 4


def test_latest_by_vm_uuid_reads_the_vm(api, run_module):
    latest = snapshot("nightly", n=5)
    del latest["vmUuid"]   # the embedded snapshot may not repeat its VM: it is the VM's own
    api.expect_session()
    api.expect("GET", "%s/%s" % (VMS, vm_id(1)), json=vm("prod-sql01", n=1, latest=latest))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm_uuid=vm_id(1), latest=True))
    assert [s["uuid"] for s in result["snapshots"]] == [snap_id(5)]
    assert len(api.made) == 4


def test_latest_of_a_vm_without_snapshots_or_unknown_vm_is_empty(api, run_module):
    api.expect_session()
    api.expect_error("GET", "%s/%s" % (VMS, vm_id(9)), 404, "ERR-API-8001", "not found")
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm_uuid=vm_id(9), latest=True))
    assert result["snapshots"] == [] and result["count"] == 0


def test_latest_with_an_ambiguous_vm_name_is_an_error(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", VMS, params={"name": "web01", "live": "TRUE"}, json=page([
        vm("web01", n=1, vmstore="vmstore1.test"), vm("web01", n=2, vmstore="vmstore2.test")]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm="web01", latest=True))
    assert result["failed"] and "2 live VMs are named 'web01'" in result["msg"]
    assert "vmstore2.test" in result["msg"] and "vm_uuid" in result["msg"]


def test_by_name_on_a_vmstore_is_one_contain_listing_with_exact_matching(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=dict(NEWEST_FIRST, contain="before-patch"), json=page([
        snapshot("before-patch", n=2, created=1763800000000),
        snapshot("before-patch-2", n=3, created=1763800000000 + 3 * DAY),        # longer name
        snapshot("before-patch", n=4, vm_name="prod-sql011", vm_n=4),             # another VM
        snapshot("before-patch", n=6, created=1763800000000 + DAY),
    ]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm="prod-sql01", name="before-patch"))
    assert [s["uuid"] for s in result["snapshots"]] == [snap_id(6), snap_id(2)]   # newest first
    assert len(api.made) == 4


def test_all_snapshots_of_a_vm_by_name_use_the_vm_name_as_contain(api, run_module):
    deleted = snapshot("gone", n=7)
    deleted["isDeleted"] = True
    api.expect_session()
    api.expect("GET", LIST, params=dict(NEWEST_FIRST, contain="prod-sql01"), json=page([
        snapshot("a", n=1), snapshot("b", n=2, vm_name="prod-sql01-test", vm_n=2), deleted]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm="prod-sql01"))
    assert [s["uuid"] for s in result["snapshots"]] == [snap_id(1)]


def test_by_vm_uuid_lists_by_vm_uuid(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=dict(NEWEST_FIRST, vmUuid=vm_id(1), contain="x"),
               json=page([snapshot("x", n=1), snapshot("x", n=2, vm_n=2), snapshot("xx", n=3)]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm_uuid=vm_id(1), name="x"))
    assert [s["uuid"] for s in result["snapshots"]] == [snap_id(1)]


def test_tgc_looks_the_vm_up_then_lists_by_vm_uuid(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", VMS, params={"name": "prod-sql01", "live": "TRUE"},
               json=page([vm("prod-sql01", n=1, vmstore="vmstore1.test")]))
    listed = snapshot("before-patch", n=2)
    listed["hostNameOrIp"] = "vmstore1.test"
    api.expect("GET", LIST, params=dict(NEWEST_FIRST, vmUuid=vm_id(1), contain="before-patch"),
               json=page([listed, snapshot("before-patch-x", n=3)]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm="prod-sql01", name="before-patch"))
    assert [(s["uuid"], s["vmstore"]) for s in result["snapshots"]] == [(snap_id(2), "vmstore1.test")]


def test_tgc_unknown_vm_is_an_empty_list(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", VMS, params={"name": "nope", "live": "TRUE"}, json=page([vm("nope2", n=3)]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm="nope"))
    assert result["snapshots"] == [] and result["count"] == 0


def test_by_uuid_on_a_vmstore_reads_one_snapshot(api, run_module):
    api.expect_session()
    api.expect("GET", "%s/%s" % (LIST, snap_id(5)), json=snapshot("nightly", n=5))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(uuid=snap_id(5)))
    assert [s["name"] for s in result["snapshots"]] == ["nightly"]
    assert len(api.made) == 4


def test_by_uuid_not_found_or_of_another_vm_is_empty(api, run_module):
    api.expect_session()
    api.expect_error("GET", "%s/%s" % (LIST, snap_id(5)), 404, "ERR-API-8001", "not found")
    api.expect_logout()
    assert run_module(vmstore_snapshot_info, dict(uuid=snap_id(5)))["snapshots"] == []
    api.expect_session()
    api.expect("GET", "%s/%s" % (LIST, snap_id(5)), json=snapshot("nightly", n=5, vm_name="other", vm_n=2))
    api.expect_logout()
    assert run_module(vmstore_snapshot_info, dict(uuid=snap_id(5), vm="prod-sql01"))["snapshots"] == []


def test_by_uuid_on_tgc_lists_by_vm_and_filters(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", LIST, params=dict(NEWEST_FIRST, vmUuid=vm_id(1)),
               json=page([snapshot("a", n=4), snapshot("b", n=5)]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm_uuid=vm_id(1), uuid=snap_id(5)))
    assert [s["uuid"] for s in result["snapshots"]] == [snap_id(5)]


def test_by_uuid_alone_on_tgc_needs_the_vm(api, run_module):
    api.expect_session(product=TGC)
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(uuid=snap_id(5)))
    assert result["failed"] and "vm or vm_uuid" in result["msg"]
    assert not [c for c in api.made if c["path"].startswith(LIST)]


def test_types_filter_is_sent_and_rechecked(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=dict(NEWEST_FIRST, vmUuid=vm_id(1), type="SCHEDULED_SNAPSHOT,USER_GENERATED_SNAPSHOT"),
               json=page([
                   snapshot("s1", n=1, kind="SCHEDULED_SNAPSHOT"),
                   snapshot("c1", n=2, kind="AUTO_GENERATED_CLONING_SNAPSHOT", created=1763800000000 + DAY),
                   snapshot("u1", n=3, kind="USER_GENERATED_SNAPSHOT", created=1763800000000 + 2 * DAY),
               ]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm_uuid=vm_id(1),
                                                    types=["user_generated_snapshot", "scheduled_snapshot"]))
    assert [s["name"] for s in result["snapshots"]] == ["u1", "s1"]


def test_latest_with_a_type_lists_and_keeps_the_newest(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=dict(NEWEST_FIRST, contain="prod-sql01", type="SCHEDULED_SNAPSHOT"), json=page([
        snapshot("s1", n=1, kind="SCHEDULED_SNAPSHOT", created=1763800000000),
        snapshot("s2", n=2, kind="SCHEDULED_SNAPSHOT", created=1763800000000 + DAY),
    ]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm="prod-sql01", types=["scheduled_snapshot"], latest=True))
    assert [s["name"] for s in result["snapshots"]] == ["s2"]


def test_include_disks_marks_the_boot_disk(api, run_module):
    api.expect_session()
    api.expect("GET", "%s/%s" % (LIST, snap_id(5)), json=snapshot("nightly", n=5))
    api.expect("GET", "%s/%s/disks" % (LIST, snap_id(5)), json=[
        snapshot_disk("scsi0:1", "prod-sql01/prod-sql01_1.vmdk"),
        snapshot_disk("scsi0:0", "prod-sql01/prod-sql01.vmdk"),
        snapshot_disk("scsi1:0", "prod-sql01/prod-sql01_2.vmdk"),
    ])
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(uuid=snap_id(5), include_disks=True))
    assert result["snapshots"][0]["disks"] == [
        {"name": "scsi0:0", "path": "prod-sql01/prod-sql01.vmdk", "is_boot": True},
        {"name": "scsi0:1", "path": "prod-sql01/prod-sql01_1.vmdk", "is_boot": False},
        {"name": "scsi1:0", "path": "prod-sql01/prod-sql01_2.vmdk", "is_boot": False},
    ]


def test_latest_with_disks_is_one_vm_read_and_one_disk_read(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"name": "prod-sql01", "live": "TRUE"},
               json=page([vm("prod-sql01", n=1, latest=snapshot("nightly", n=5))]))
    api.expect("GET", "%s/%s/disks" % (LIST, snap_id(5)),
               json=[snapshot_disk("ide0:1", "d1.vhdx"), snapshot_disk("ide0:0", "d0.vhdx")])
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm="prod-sql01", latest=True, include_disks=True))
    assert [d["name"] for d in result["snapshots"][0]["disks"] if d["is_boot"]] == ["ide0:0"]
    assert len(api.made) == 5


def test_include_disks_on_tgc_fails_before_listing(api, run_module):
    api.expect_session(product=TGC)
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm="prod-sql01", include_disks=True))
    assert result["failed"] and "Tintri Global Center" in result["msg"]
    assert len(api.made) == 3


def test_query(api, run_module):
    api.expect_session()
    api.expect("GET", LIST, params=dict(NEWEST_FIRST, contain="prod-sql01"), json=page([
        snapshot("a", n=1), snapshot("b", n=2, created=1763800000000 + DAY)]))
    api.expect_logout()
    result = run_module(vmstore_snapshot_info, dict(vm="prod-sql01", query="snapshots[].name"))
    assert result["query_result"] == ["b", "a"]


def test_needs_a_vm_or_a_snapshot_id(api, run_module):
    result = run_module(vmstore_snapshot_info, dict(name="x"))
    assert result["failed"] and "one of the following is required" in result["msg"]
    assert api.made == []


def test_unknown_type_is_refused_before_any_request(api, run_module):
    result = run_module(vmstore_snapshot_info, dict(vm="a", types=["USER"]))
    assert result["failed"] and "types" in result["msg"]
    assert api.made == []
