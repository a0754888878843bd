# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vmstore inventory plugin against the strict request registry: real option handling, real client."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader

from ansible_collections.vmops.datacenter.plugins.inventory import vmstore as vmstore_inventory
from ansible_collections.vmops.datacenter.tests.unit.framework.inventory import (
    assert_not_templatable,
    load_inventory_plugin,
)
from ansible_collections.vmops.datacenter.tests.unit.framework.rest_registry import page
from ansible_collections.vmops.datacenter.tests.unit.framework.tintri_objects import snapshot, vm, vm_id

NAME = "vmops.datacenter.vmstore"
VMS = "/api/v310/vm"
LIVE = {"live": "TRUE"}
PASSWORD = "S3cr3t-unit-Pa55"
SECOND_PASSWORD = "Other-S3cr3t-Pa55"
TGC = "Tintri Global Center"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Options come from the file or the TINTRI_* variables a test sets, never from the caller's shell."""
    for name in ("TINTRI_HOSTNAME", "TINTRI_USERNAME", "TINTRI_PASSWORD", "TINTRI_CA_PATH", "TINTRI_VALIDATE_CERTS",
                 "TINTRI_TIMEOUT", "TINTRI_RETRIES"):
        monkeypatch.delenv(name, raising=False)


def load_plugin():
    return load_inventory_plugin(NAME, vmstore_inventory)


@pytest.fixture
def parse(tmp_path):
    """parse(config, cache=True) -> InventoryData, with the plugin loaded the way Ansible loads it."""

    def run(config, cache=True, name="test.vmstore.yml"):
        full = dict(plugin="vmops.datacenter.vmstore", username="admin", password=PASSWORD, ca_path="/etc/lab/ca.pem")
        full.update(config)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(full))
        inventory = InventoryData()
        plugin = load_plugin()
        plugin.parse(inventory, DataLoader(), str(path), cache=cache)
        if plugin.get_option("cache"):
            plugin.update_cache_if_changed()
        return inventory

    return run


def hosts_of(inventory, group):
    if group == "all":
        return sorted(inventory.hosts)
    return sorted(h.name for h in inventory.groups[group].get_hosts())


def hostvars(inventory, host):
    return inventory.get_host(host).get_vars()


def service_vm(name, n, group, **kwargs):
    obj = vm(name, n=n, **kwargs)
    obj["serviceGroup"] = {"typeId": "com.tintri.api.rest.v310.dto.domain.beans.vm.ServiceGroupInfo",
                           "groupId": "SG-1", "name": group, "static": True}
    return obj


def test_groups_and_hostvars_from_one_paged_listing_per_server(api, parse):
    prod = service_vm("prod-sql01", 1, "Production SQL", latest=snapshot("nightly", n=7, created=1763800000000))
    prod["vmware"].update(numberCpu=8, memoryProvisionedMB=32768, ipList=["10.0.0.5"])
    prod["replication"] = {"isEnabled": True}
    web = vm("web01", n=2, hypervisor="VMWARE", powered=False)
    web["vmware"]["storageContainers"] = ["ds-a", "ds-b"]
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([prod], next_link="?live=TRUE&offset=1&limit=1"))
    api.expect("GET", VMS, params={"live": "TRUE", "offset": "1", "limit": "1"}, json=page([web]))
    api.expect_logout()
    api.expect_session(session="sess-2")
    api.expect("GET", VMS, params=LIVE, json=page([vm("dr-util01", n=3)]))
    api.expect_logout()

    inventory = parse(dict(servers=["vmstore1.test", "vmstore2.test"]))

    assert hosts_of(inventory, "all") == ["dr-util01", "prod-sql01", "web01"]
    assert hosts_of(inventory, "vmstore_vmstore1_test") == ["prod-sql01", "web01"]
    assert hosts_of(inventory, "vmstore_vmstore2_test") == ["dr-util01"]
    assert hosts_of(inventory, "datastore_tintri_smb") == ["dr-util01", "prod-sql01"]
    assert hosts_of(inventory, "datastore_ds_a") == hosts_of(inventory, "datastore_ds_b") == ["web01"]
    assert hosts_of(inventory, "hypervisor_hyperv") == ["dr-util01", "prod-sql01"]
    assert hosts_of(inventory, "hypervisor_vmware") == ["web01"]
    assert hosts_of(inventory, "service_group_production_sql") == ["prod-sql01"]
    assert hosts_of(inventory, "power_on") == ["dr-util01", "prod-sql01"]
    assert hosts_of(inventory, "power_off") == ["web01"]

    got = hostvars(inventory, "prod-sql01")
    assert {k: v for k, v in got.items() if k.startswith("tintri_")} == dict(
        tintri_vm_name="prod-sql01", tintri_uuid=vm_id(1), tintri_vmstore="vmstore1.test",
        tintri_server="vmstore1.test", tintri_datastore="tintri-smb", tintri_datastores=["tintri-smb"],
        tintri_hypervisor_type="HYPERV", tintri_hypervisor_manager="hv-mgr01", tintri_hypervisor_host="hv01",
        tintri_service_groups=["Production SQL"], tintri_power_state="on", tintri_is_template=False,
        tintri_subdir="prod-sql01", tintri_cpus=8, tintri_memory_mb=32768, tintri_ip_addresses=["10.0.0.5"],
        tintri_space_provisioned_gib=40.0, tintri_space_used_gib=1.5, tintri_replication_enabled=True,
        tintri_latest_snapshot_name="nightly", tintri_latest_snapshot_time="2025-11-22T08:26:40Z")
    assert hostvars(inventory, "web01")["tintri_latest_snapshot_time"] is None
    # One listing per server (two pages on the first), no request per VM.
    assert [c["path"] for c in api.calls("GET")].count(VMS) == 3


def test_group_by_limits_the_builtin_groups_and_constructed_features_apply(api, parse):
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([service_vm("prod-sql01", 1, "Gold"), vm("dev-sql01", n=2)]))
    api.expect_logout()

    inventory = parse(dict(
        servers=["vmstore1.test"], group_by=["service_group"],
        keyed_groups=[dict(key="tintri_hypervisor_type | lower", prefix="hv")],
        groups=dict(syncvm_dev="tintri_vm_name is match('dev-')"),
        compose=dict(refresh_source="tintri_vm_name | replace('dev-', 'prod-')", vm_gib="tintri_space_provisioned_gib"),
    ))

    assert set(inventory.groups) == {"all", "ungrouped", "service_group_gold", "hv_hyperv", "syncvm_dev"}
    assert hosts_of(inventory, "syncvm_dev") == ["dev-sql01"]
    assert hosts_of(inventory, "hv_hyperv") == ["dev-sql01", "prod-sql01"]
    assert hostvars(inventory, "dev-sql01")["refresh_source"] == "prod-sql01"
    assert hostvars(inventory, "dev-sql01")["vm_gib"] == 40.0


def test_strict_makes_a_broken_compose_expression_an_error(api, parse):
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([vm("prod-sql01", n=1)]))
    api.expect_logout()
    with pytest.raises(Exception, match="no_such_variable"):
        parse(dict(servers=["vmstore1.test"], strict=True, compose=dict(x="no_such_variable + 1")))


def test_include_exclude_patterns_templates_and_historical_entries(api, parse):
    template = vm("prod-template", n=5)
    template["vmware"]["isTemplate"] = True
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([
        vm("prod-sql01", n=1), vm("prod-sql02-old", n=2), vm("dev-sql01", n=3), vm("Prod-upper", n=4), template,
        vm("prod-sql03", n=6, live=False),  # a historical entry, despite live=TRUE
    ]))
    api.expect_logout()

    inventory = parse(dict(servers=["vmstore1.test"], include=["prod-*", "dev-sql0?"], exclude=["*-old"]))

    assert hosts_of(inventory, "all") == ["dev-sql01", "prod-sql01"]


def test_include_templates_lists_them(api, parse):
    template = vm("gold-image", n=5)
    template["vmware"]["isTemplate"] = True
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([template]))
    api.expect_logout()
    inventory = parse(dict(servers=["vmstore1.test"], include_templates=True))
    assert hostvars(inventory, "gold-image")["tintri_is_template"] is True


def duplicate_listing(api):
    api.expect_session(product=TGC)
    api.expect("GET", VMS, params=LIVE, json=page([
        vm("web01", n=9, vmstore="vmstore2.test"),
        vm("web01", n=3, vmstore="vmstore1.test"),
        vm("db01", n=4, vmstore="vmstore1.test"),
    ]))
    api.expect_logout()


def test_duplicate_names_first_keeps_the_name_the_other_gets_a_stable_suffix(api, parse):
    duplicate_listing(api)
    inventory = parse(dict(servers=["tgc.test"]))
    suffixed = "web01_%s" % vmstore_inventory.name_suffix(vm_id(9))
    assert hosts_of(inventory, "all") == ["db01", "web01", suffixed]
    assert hostvars(inventory, "web01")["tintri_vmstore"] == "vmstore1.test"
    assert hostvars(inventory, suffixed)["tintri_vm_name"] == "web01"
    assert hostvars(inventory, suffixed)["tintri_uuid"] == vm_id(9)
    assert hostvars(inventory, suffixed)["tintri_server"] == "tgc.test"
    assert hosts_of(inventory, "vmstore_vmstore2_test") == [suffixed]


def test_duplicate_names_suffix_all_leaves_no_plain_name(api, parse):
    duplicate_listing(api)
    inventory = parse(dict(servers=["tgc.test"], duplicate_names="suffix_all"))
    assert hosts_of(inventory, "all") == sorted(["db01", "web01_%s" % vmstore_inventory.name_suffix(vm_id(3)),
                                                 "web01_%s" % vmstore_inventory.name_suffix(vm_id(9))])


def test_duplicate_names_error_lists_the_vms(api, parse):
    duplicate_listing(api)
    with pytest.raises(AnsibleParserError) as failure:
        parse(dict(servers=["tgc.test"], duplicate_names="error"))
    message = str(failure.value)
    assert "'web01'" in message and vm_id(3) in message and vm_id(9) in message and "vmstore2.test" in message


def test_suffix_never_takes_the_name_of_a_real_vm():
    records = [dict(tintri_vm_name=name, tintri_uuid=uuid, tintri_vmstore="vs", tintri_server_index=0)
               for name, uuid in (("a", "U1"), ("a", "U2"), ("a_%s" % vmstore_inventory.name_suffix("U2"), "U3"))]
    names = [pair[0] for pair in vmstore_inventory.assign_host_names(records, "suffix")]
    assert len(set(names)) == 3 and "a_U2" in names


def test_a_vm_listed_by_a_tgc_and_its_vmstore_appears_once(api, parse):
    api.expect_session(product=TGC)
    api.expect("GET", VMS, params=LIVE, json=page([vm("prod-sql01", n=1, vmstore="vmstore1.test")]))
    api.expect_logout()
    api.expect_session(session="sess-2")
    api.expect("GET", VMS, params=LIVE, json=page([vm("prod-sql01", n=1), vm("local-only", n=2)]))
    api.expect_logout()
    inventory = parse(dict(servers=["tgc.test", "vmstore1.test"]))
    assert hosts_of(inventory, "all") == ["local-only", "prod-sql01"]
    assert hostvars(inventory, "prod-sql01")["tintri_server"] == "tgc.test"


def test_api_text_is_never_templated(api, parse):
    evil = service_vm("evil-{{ 7 * 6 }}", 1, "{{ lookup('ansible.builtin.pipe', 'id') }}")
    evil["vmware"]["hypervisorManagerDisplayName"] = evil["vmware"]["vcenterName"] = "{{ 6 * 7 }}"
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([evil]))
    api.expect_logout()

    inventory = parse(dict(servers=["vmstore1.test"],
                           compose=dict(shown_name="tintri_vm_name", shown_manager="tintri_hypervisor_manager"),
                           keyed_groups=[dict(key="tintri_hypervisor_manager", prefix="mgr")]))

    host = "evil-{{ 7 * 6 }}"
    assert hosts_of(inventory, "all") == [host]
    got = hostvars(inventory, host)
    assert got["shown_name"] == host
    assert got["shown_manager"] == "{{ 6 * 7 }}"
    assert got["tintri_service_groups"] == ["{{ lookup('ansible.builtin.pipe', 'id') }}"]
    assert "mgr____6___7___" in inventory.groups
    assert "service_group____lookup__ansible_builtin_pipe____id_____" in inventory.groups


def test_api_strings_are_marked_unsafe(api, parse):
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([service_vm("prod-sql01", 1, "Gold")]))
    api.expect_logout()
    inventory = parse(dict(servers=["vmstore1.test"]))
    got = hostvars(inventory, "prod-sql01")
    for value in (got["tintri_vm_name"], got["tintri_service_groups"][0], got["tintri_vmstore"]):
        assert_not_templatable(value)


def test_credentials_are_templated_from_the_file_or_taken_from_the_environment(api, monkeypatch):
    monkeypatch.setenv("UNIT_VMSTORE", "vmstore1.test")
    monkeypatch.setenv("UNIT_PASSWORD", SECOND_PASSWORD)
    monkeypatch.setenv("TINTRI_USERNAME", "env-user")
    monkeypatch.setenv("TINTRI_PASSWORD", PASSWORD)
    api.expect("GET", "/api/info", json=dict(productName="Tintri VMstore", preferredVersion="v310.191"))
    api.expect("POST", "/api/v310/session/login", json="ADMIN", cookies={"JSESSIONID": "s1"},
               body=lambda b: b["username"] == "svc" and b["password"] == SECOND_PASSWORD)
    api.expect("GET", VMS, params=LIVE, json=page([vm("a", n=1)]))
    api.expect_logout()
    api.expect("GET", "/api/info", json=dict(productName="Tintri VMstore", preferredVersion="v310.191"))
    api.expect("POST", "/api/v310/session/login", json="ADMIN", cookies={"JSESSIONID": "s2"},
               body=lambda b: b["username"] == "env-user" and b["password"] == PASSWORD)
    api.expect("GET", VMS, params=LIVE, json=page([vm("b", n=2)]))
    api.expect_logout()

    config = dict(plugin="vmops.datacenter.vmstore", servers=[
        dict(hostname="{{ lookup('env', 'UNIT_VMSTORE') }}", username="svc",
             password="{{ lookup('env', 'UNIT_PASSWORD') }}"),
        "vmstore2.test"])
    inventory = parse_raw(config)

    assert hosts_of(inventory, "all") == ["a", "b"]
    assert hostvars(inventory, "a")["tintri_vmstore"] == "vmstore1.test"


def parse_raw(config, tmp_dir=None):
    """Parse a config without the fixture's defaults (credentials only from the file and the environment)."""
    import tempfile

    directory = Path(tmp_dir or tempfile.mkdtemp())
    path = directory / "raw.vmstore.yml"
    path.write_text(yaml.safe_dump(config))
    inventory = InventoryData()
    load_plugin().parse(inventory, DataLoader(), str(path), cache=False)
    return inventory


def test_servers_from_the_environment(api, monkeypatch):
    monkeypatch.setenv("TINTRI_HOSTNAME", "vmstore1.test")
    monkeypatch.setenv("TINTRI_USERNAME", "admin")
    monkeypatch.setenv("TINTRI_PASSWORD", PASSWORD)
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([vm("a", n=1)]))
    api.expect_logout()
    inventory = parse_raw(dict(plugin="vmops.datacenter.vmstore"))
    assert hosts_of(inventory, "vmstore_vmstore1_test") == ["a"]


def test_cache_serves_the_second_parse_and_never_holds_the_password(api, parse, tmp_path):
    cache_dir = tmp_path / "cache"
    config = dict(servers=["vmstore1.test"], cache=True, cache_plugin="jsonfile",
                  cache_connection=str(cache_dir), cache_timeout=3600)
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([vm("prod-sql01", n=1)]))
    api.expect_logout()
    first = parse(config)
    assert hosts_of(first, "all") == ["prod-sql01"]
    assert len(api.made) == 4

    second = parse(config)  # no request registered: the strict registry fails on any call
    assert hosts_of(second, "all") == ["prod-sql01"]
    assert hostvars(second, "prod-sql01")["tintri_uuid"] == vm_id(1)
    assert_not_templatable(hostvars(second, "prod-sql01")["tintri_vm_name"])
    assert len(api.made) == 4

    files = list(cache_dir.iterdir())
    assert files, "nothing was cached"
    for cached in files:
        text = cached.read_text()
        assert PASSWORD not in text
        assert "prod-sql01" in text and "tintri_uuid" in text

    # --flush-cache (cache=False) lists again; another user or server has its own cache entry.
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([vm("prod-sql01", n=1)]))
    api.expect_logout()
    parse(config, cache=False)
    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([vm("other", n=2)]))
    api.expect_logout()
    other = dict(config, username="auditor")
    assert hosts_of(parse(other), "all") == ["other"]
    assert len(list(cache_dir.iterdir())) == 2


def test_cache_key_names_servers_and_users_but_not_the_password(tmp_path):
    keys = set()
    for servers, username, password in ((["a.test"], "u1", "p1"), (["a.test"], "u1", "p2"), (["b.test"], "u1", "p1"),
                                        (["a.test"], "u2", "p1")):
        path = tmp_path / "k.vmstore.yml"
        path.write_text(yaml.safe_dump(dict(plugin="vmops.datacenter.vmstore", servers=servers, username=username,
                                            password=password)))
        plugin = load_plugin()
        plugin.loader = DataLoader()
        plugin._vars = {}
        plugin._read_config_data(str(path))
        key = plugin.get_cache_key(str(path))
        assert password not in key
        keys.add(key)
    assert len(keys) == 3  # the two that differ only in password share a key


def test_login_refused_names_server_status_and_code_without_the_password(api, parse):
    api.expect("GET", "/api/info", json=dict(productName="Tintri VMstore", preferredVersion="v310.191"))
    api.expect_error("POST", "/api/v310/session/login", 403, "ERR-API-0100",
                     "Authentication failed for user admin with password %s" % PASSWORD)
    with pytest.raises(AnsibleParserError) as failure:
        parse(dict(servers=["vmstore1.test"]))
    message = str(failure.value)
    assert "vmstore1.test" in message and "403" in message and "ERR-API-0100" in message
    assert "Check username and password" in message
    assert PASSWORD not in message


def test_listing_failure_after_retries_is_reported_and_the_session_closed(api, parse):
    api.expect_session()
    for method, path in [("GET", VMS)] * 3:  # the first try and two retries
        api.expect_error(method, path, 503, "ERR-API-9026", "Get VM list failed", params=LIVE)
    api.expect_logout()
    with pytest.raises(AnsibleParserError) as failure:
        parse(dict(servers=["vmstore1.test"], retries=2))
    message = str(failure.value)
    assert "GET /api/v310/vm failed with HTTP 503 ERR-API-9026: Get VM list failed." in message
    assert len(api.sleeps) == 2


def test_one_failing_server_fails_the_source_rather_than_a_partial_inventory(api, parse):
    import requests

    api.expect_session()
    api.expect("GET", VMS, params=LIVE, json=page([vm("a", n=1)]))
    api.expect_logout()
    api.expect_exception("GET", "/api/info", requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(AnsibleParserError, match="vmstore2.test.*ca_path"):
        parse(dict(servers=["vmstore1.test", "vmstore2.test"]))


@pytest.mark.parametrize("config, message", [
    (dict(servers=["vmstore1.test"], password=None), "No password for Tintri server vmstore1.test"),
    (dict(servers=[dict(hostname="vmstore1.test", pasword="x")]), "Unknown keys .* pasword"),
    (dict(servers=[dict(username="x")]), "must be a host name or a mapping with hostname"),
])
def test_bad_configuration_is_explained_before_any_request(api, parse, config, message):
    with pytest.raises(AnsibleParserError, match=message):
        parse(config)
    assert api.made == []


def test_only_vmstore_yml_files_are_claimed(tmp_path):
    plugin = load_plugin()
    for name, claimed in (("prod.vmstore.yml", True), ("vmstore.yaml", True), ("hosts.yml", False)):
        path = tmp_path / name
        path.write_text("plugin: vmops.datacenter.vmstore\n")
        assert plugin.verify_file(str(path)) is claimed
