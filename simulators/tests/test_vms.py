"""VM listing, filters, paging and virtual disks."""

from __future__ import annotations

from urllib.parse import parse_qsl

from .test_sessions import assert_error

PAGE = "com.tintri.api.rest.v310.dto.Page"


def test_vm_shape(client):
    c = client()
    vm = c.vm_by_name("prod-sql01")
    assert vm["typeId"] == "com.tintri.api.rest.v310.dto.domain.VirtualMachine"
    assert vm["uuid"]["typeId"] == "com.tintri.api.rest.vcommon.dto.Uuid"
    assert "-VIM-" in vm["uuid"]["uuid"] and len(vm["uuid"]["uuid"].rsplit("-", 1)[1]) == 16
    assert vm["isLive"] is True and vm["isDeleted"] is False
    w = vm["vmware"]
    assert w["hypervisorType"] == "HYPERV" and w["vcenterName"] == "vmm01.lab.local"
    assert w["isPowered"] is True and w["storageContainers"] == ["tintri-prod"]
    assert w["subdir"] == "prod-sql01" and w["configurationFilepath"].startswith("prod-sql01/")
    latest = vm["snapshot"]["latest"]
    assert latest["description"] == "prod-sql01-pre-patch" and "-SST-" in latest["uuid"]["uuid"]
    assert vm["qosConfig"]["typeId"].endswith("VirtualMachineQoSConfig")
    stat = vm["stat"]["sortedStats"][0]
    for key in ("spaceUsedGiB", "spaceProvisionedGiB", "operationsTotalIops", "latencyTotalMs"):
        assert isinstance(stat[key], (int, float))
    assert "vmstoreName" not in vm
    assert c.ok("GET", f"/v310/vm/{vm['uuid']['uuid']}")["vmware"]["name"] == "prod-sql01"
    body = assert_error(c.get("/v310/vm/nope-VIM-0000000000000001"), 404, "ERR-API-8001")
    assert body["message"] == "Failed to find requested resource of type VirtualMachine with id: 'nope-VIM-0000000000000001'"
    no_snap = c.vm_by_name("dev-sql01")
    assert "latest" not in no_snap["snapshot"]


def test_name_filter_is_substring_and_historical_entries_show(client):
    c = client()
    names = sorted(v["vmware"]["name"] for v in c.ok("GET", "/v310/vm", params={"name": "app"})["items"])
    assert names == ["app", "app01"]
    both = c.ok("GET", "/v310/vm", params={"name": "dev-sql01"})
    assert [v["isLive"] for v in both["items"]].count(False) == 1 and both["filteredTotal"] == 2
    live = c.ok("GET", "/v310/vm", params={"name": "dev-sql01", "live": "TRUE"})
    assert live["filteredTotal"] == 1
    gone = c.ok("GET", "/v310/vm", params={"deleted": "TRUE"})
    assert [v["vmware"]["name"] for v in gone["items"]] == ["dev-sql01"]
    assert c.ok("GET", "/v310/vm", params={"powered": "FALSE", "live": "TRUE"})["items"][0]["vmware"]["name"] == "app01"
    vmware = c.ok("GET", "/v310/vm", params=[("hypervisorType", "VMWARE")])
    assert {v["vmware"]["name"] for v in vmware["items"]} == {"web-vm01", "app", "app01"}
    multi = c.ok("GET", "/v310/vm", params=[("hypervisorType", "VMWARE,HYPERV"), ("live", "TRUE")])
    assert multi["filteredTotal"] == 6
    one = c.vm_by_name("app01")
    by_uuid = c.ok("GET", "/v310/vm", params={"uuid": one["uuid"]["uuid"]})
    assert [v["vmware"]["name"] for v in by_uuid["items"]] == ["app01"]
    assert c.ok("GET", "/v310/vm", params={"subdir": "app01"})["items"][0]["uuid"] == one["uuid"]
    assert c.ok("GET", "/v310/vm", params={"host": "esx02.lab.local"})["filteredTotal"] == 1
    sg = c.ok("GET", "/v310/vm", params={"serviceGroupName": "Production SQL"})
    assert [v["vmware"]["name"] for v in sg["items"]] == ["prod-sql01"]
    # unknown/undocumented params are ignored, as the real server does
    assert c.ok("GET", "/v310/vm", params=[("includeFields", "uuid"), ("includeFields", "vmware"),
                                           ("isDeleted", "True")])["filteredTotal"] == 7


def test_paging_next_carries_filters_and_is_absent_on_last_page(client):
    c = client()
    first = c.ok("GET", "/v310/vm", params={"live": "TRUE", "limit": 2, "includeFields": "uuid"})
    assert first["typeId"] == PAGE
    assert (first["filteredTotal"], first["total"], first["absoluteTotal"]) == (6, 6, 7)
    assert (first["limit"], first["offset"], first["page"], first["pageTotal"]) == (2, 0, 1, 3)
    assert "prev" not in first
    seen = [v["uuid"]["uuid"] for v in first["items"]]
    page = first
    while "next" in page:
        nxt = dict(parse_qsl(page["next"]))
        assert nxt["live"] == "TRUE" and nxt["limit"] == "2" and nxt["includeFields"] == "uuid"
        assert "?" not in page["next"]
        page = c.ok("GET", "/v310/vm?" + page["next"])
        assert "prev" in page
        seen += [v["uuid"]["uuid"] for v in page["items"]]
    assert page["page"] == 3 and "next" not in page
    assert len(seen) == len(set(seen)) == 6
    empty = c.ok("GET", "/v310/vm", params={"name": "no-such-vm"})
    assert empty["filteredTotal"] == 0 and empty["items"] == [] and "next" not in empty
    by_page = c.ok("GET", "/v310/vm", params={"live": "TRUE", "limit": 4, "page": 2})
    assert by_page["offset"] == 4 and len(by_page["items"]) == 2
    ordered = c.ok("GET", "/v310/vm", params={"live": "TRUE", "sortedBy": "name", "sortOrder": "DESC"})
    names = [v["vmware"]["name"] for v in ordered["items"]]
    assert names == sorted(names, reverse=True)


def test_virtual_disks(client):
    c = client()
    dev = c.vm_by_name("dev-sql01")
    page = c.ok("GET", "/v310/virtualDisk", params={"vmUuid": dev["uuid"]["uuid"]})
    assert page["typeId"] == PAGE
    disks = page["items"]
    assert [d["name"] for d in disks] == ["SCSI 0:0", "SCSI 0:1", "SCSI 0:2"]
    d = disks[1]
    assert d["typeId"] == "com.tintri.api.rest.v310.dto.domain.VirtualDisk"
    assert d["vmUuid"]["uuid"] == dev["uuid"]["uuid"] and d["vmName"] == "dev-sql01"
    assert d["path"].startswith("dev-sql01/") and d["isDiskDrive"] is True and d["isSynthetic"] is False
    assert d["datastoreUuid"]["typeId"] == "com.tintri.api.rest.vcommon.dto.Uuid"
    web = c.ok("GET", "/v310/virtualDisk", params={"vmName": "web-vm01"})["items"]
    assert [x["name"] for x in web] == ["scsi0:0", "scsi0:1"]
    assert c.ok("GET", "/v310/virtualDisk", params={"vmName": "web-vm01", "name": "scsi0:1"})["filteredTotal"] == 1
    assert c.ok("GET", "/v310/virtualDisk", params={"isDiskDrive": "FALSE"})["filteredTotal"] == 0
