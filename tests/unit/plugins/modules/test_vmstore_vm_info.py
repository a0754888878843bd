# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.vmops.datacenter.plugins.modules import vmstore_vm_info
from ansible_collections.vmops.datacenter.tests.unit.framework.rest_registry import page
from ansible_collections.vmops.datacenter.tests.unit.framework.tintri_objects import disk, snap_id, snapshot, vm, vm_id

VMS = "/api/v310/vm"
DISKS = "/api/v310/virtualDisk"
TGC = "Tintri Global Center"


def test_exact_name_among_server_substring_matches_in_four_requests(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"name": "prod-sql01", "live": "TRUE"}, json=page([
        vm("prod-sql01", n=1),
        vm("prod-sql011", n=2),               # the server's name filter matched a longer name
        vm("prod-sql01", n=3, live=False),    # a historical entry, despite live=TRUE
    ]))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(name="prod-sql01"))
    assert result["changed"] is False
    assert [v["uuid"] for v in result["vms"]] == [vm_id(1)]
    assert result["count"] == 1
    summary = result["vms"][0]
    assert summary["name"] == "prod-sql01" and summary["vmstore"] == "vmstore1.test"
    assert summary["hypervisor_type"] == "HYPERV" and summary["is_powered"] is True
    assert "disks" not in summary and "raw" not in summary
    assert result["server"] == {"hostname": "vmstore1.test", "product": "Tintri VMstore", "api_version": "v310.191"}
    assert len(api.made) == 4


def test_name_pattern_is_a_client_side_glob(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"live": "TRUE"}, json=page([
        vm("dev-web01", n=1), vm("prod-web01", n=2), vm("xdev-1", n=3), vm("dev-db01", n=4), vm("DEV-x", n=5)]))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(name_pattern="dev-*"))
    assert [v["name"] for v in result["vms"]] == ["dev-web01", "dev-db01"]


def test_five_thousand_vms_are_three_pages_following_next_with_filters(api, run_module):
    api.expect_session()
    first = [vm("hv-%04d" % i, n=i) for i in range(2000)]
    second = [vm("hv-%04d" % i, n=i) for i in range(2000, 4000)]
    third = [vm("hv-%04d" % i, n=i) for i in range(4000, 5000)]
    api.expect("GET", VMS, params={"live": "TRUE", "hypervisorType": "HYPERV"},
               json=page(first, next_link="live=TRUE&hypervisorType=HYPERV&offset=2000&limit=2000", total=5000))
    api.expect("GET", VMS, params={"live": "TRUE", "hypervisorType": "HYPERV", "offset": "2000", "limit": "2000"},
               json=page(second, next_link="live=TRUE&hypervisorType=HYPERV&offset=4000&limit=2000", total=5000))
    api.expect("GET", VMS, params={"live": "TRUE", "hypervisorType": "HYPERV", "offset": "4000", "limit": "2000"},
               json=page(third, total=5000))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(hypervisor_type="hyperv"))
    assert result["count"] == 5000
    assert result["vms"][0]["name"] == "hv-0000" and result["vms"][-1]["name"] == "hv-4999"
    assert len(api.calls("GET")) == 4  # /api/info and three pages


def test_page_size_is_sent_as_limit(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"live": "TRUE", "limit": "50"}, json=page([vm("a", n=1)]))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(page_size=50))
    assert result["count"] == 1


def test_bad_page_size_fails_before_any_request(api, run_module):
    result = run_module(vmstore_vm_info, dict(page_size=0))
    assert result["failed"] and "page_size" in result["msg"]
    assert api.made == []


def test_tgc_items_report_their_vmstore(api, run_module):
    api.expect_session(product=TGC)
    api.expect("GET", VMS, params={"live": "TRUE", "powered": "FALSE"}, json=page([
        vm("web01", n=1, powered=False, vmstore="vmstore1.test"),
        vm("web02", n=2, powered=False, vmstore="vmstore2.test"),
        vm("web03", n=3, powered=True, vmstore="vmstore2.test"),   # the server ignored the filter: not ours
    ]))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(powered=False))
    assert [(v["name"], v["vmstore"]) for v in result["vms"]] == [("web01", "vmstore1.test"), ("web02", "vmstore2.test")]
    assert result["server"]["product"] == TGC


def test_include_disks_lists_drives_in_boot_order_with_boot_flag(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"name": "prod-sql01", "live": "TRUE"}, json=page([vm("prod-sql01", n=1)]))
    api.expect("GET", DISKS, params={"vmUuid": vm_id(1)}, json=page([
        disk("scsi0:1", vm_n=1), disk("scsi0:0", vm_n=1), disk("scsi0:2", vm_n=1, drive=False)]))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(name="prod-sql01", include_disks=True))
    disks = result["vms"][0]["disks"]
    assert [(d["name"], d["is_boot"]) for d in disks] == [("scsi0:0", True), ("scsi0:1", False)]
    assert disks[0]["path"] == "vm/scsi0_0.vhdx"


def test_include_disks_one_listing_per_vm(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"live": "TRUE"}, json=page([vm("a", n=1), vm("b", n=2)]))
    api.expect("GET", DISKS, params={"vmUuid": vm_id(1)}, json=page([disk("ide0:0", vm_n=1), disk("scsi0:0", vm_n=1)]))
    api.expect("GET", DISKS, params={"vmUuid": vm_id(2)}, json=page([]))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(include_disks=True))
    assert [d["name"] for d in result["vms"][0]["disks"] if d["is_boot"]] == ["ide0:0"]
    assert result["vms"][1]["disks"] == []


def test_include_disks_on_tgc_fails_before_listing(api, run_module):
    api.expect_session(product=TGC)
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(name="prod-sql01", include_disks=True))
    assert result["failed"]
    assert "Tintri Global Center" in result["msg"] and "include_disks" in result["msg"]
    assert not [c for c in api.made if c["path"] == VMS]


def test_live_false_lists_historical_entries_too(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"name": "old", "live": "BOTH"},
               json=page([vm("old", n=1, live=False), vm("old", n=2)]))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(name="old", live=False))
    assert [(v["uuid"], v["is_live"]) for v in result["vms"]] == [(vm_id(1), False), (vm_id(2), True)]


def test_uuid_and_hypervisor_filters_are_rechecked(api, run_module):
    vmware = vm("web01", n=7, hypervisor="VMWARE")
    api.expect_session()
    api.expect("GET", VMS, params={"uuid": vm_id(7), "live": "TRUE", "hypervisorType": "VMWARE"},
               json=page([vmware, vm("web01", n=8, hypervisor="VMWARE")]))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(uuid=vm_id(7), hypervisor_type="vmware"))
    assert [v["uuid"] for v in result["vms"]] == [vm_id(7)]


def test_raw_and_query(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"live": "TRUE"}, json=page([vm("a", n=1, powered=False), vm("b", n=2)]))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(raw=True, query="vms[?is_powered].name"))
    assert result["query_result"] == ["b"]
    assert result["vms"][0]["raw"]["uuid"]["uuid"] == vm_id(1)


def test_a_query_that_needs_the_result_is_not_judged_on_an_empty_one(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"live": "TRUE"}, json=page([vm("a", n=1), vm("b", n=2)]))
    api.expect_logout()
    result = run_module(vmstore_vm_info, dict(query="length(vms)"))
    assert result["query_result"] == 2


def test_bad_query_fails_before_any_request(api, run_module):
    result = run_module(vmstore_vm_info, dict(query="vms[?"))
    assert result["failed"] and "Invalid query" in result["msg"]
    assert api.made == []


def test_name_and_pattern_are_exclusive(api, run_module):
    result = run_module(vmstore_vm_info, dict(name="a", name_pattern="a*"))
    assert result["failed"] and "mutually exclusive" in result["msg"]
    assert api.made == []


def test_latest_snapshot_summary_without_expiry(api, run_module):
    api.expect_session()
    api.expect("GET", VMS, params={"name": "a", "live": "TRUE"}, json=page([vm("a", n=1, latest=snapshot("s", n=4))]))
    api.expect_logout()
    latest = run_module(vmstore_vm_info, dict(name="a"))["vms"][0]["latest_snapshot"]
    assert latest["uuid"] == snap_id(4) and latest["name"] == "s" and latest["expiration_time"] is None


def test_api_error_is_reported_with_logout(api, run_module):
    api.expect_session()
    api.expect_error("GET", VMS, 500, "ERR-API-9026", "Get VM list failed", params={"live": "TRUE"})
    api.expect_logout()
    result = run_module(vmstore_vm_info, {})
    assert result["failed"] and "ERR-API-9026" in result["msg"]
    assert result["tintri_error"]["status"] == 500
