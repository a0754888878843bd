# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vmm inventory plugin with real option handling and VmmClient over a strict fake runner: every catalogue
operation is expected with its parameters, nothing else may run."""

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader

from ansible_collections.vmops.datacenter.plugins.inventory import vmm as vmm_inventory
from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import PsrpError
from ansible_collections.vmops.datacenter.plugins.plugin_utils._inventory import name_suffix
from ansible_collections.vmops.datacenter.tests.unit.framework.inventory import (
    assert_not_templatable,
    load_inventory_plugin,
)
from ansible_collections.vmops.datacenter.tests.unit.plugins.module_utils.test_vmm_client import FakeRunner

NAME = "vmops.datacenter.vmm"
PASSWORD = "Psrp-inventory-Pa55"
VMM_PASSWORD = "Vmm-hop-Pa55"
CONNECTED = {"server": "vmm01.lab.local", "version": "10.22.0.0"}
ENV_NAMES = ("SERVER", "PORT", "SSL", "AUTH", "USERNAME", "PASSWORD", "CERTIFICATE_PEM", "CERTIFICATE_KEY_PEM",
             "VALIDATE_CERTS", "CA_PATH", "ENCRYPTION", "CONFIGURATION_NAME", "OPERATION_TIMEOUT",
             "CONNECTION_TIMEOUT", "RETRIES", "VMM_SERVER", "VMM_USERNAME", "VMM_PASSWORD")
PROD = "All Hosts\\Datacenter A\\Production"


def hv(n, name, cluster="hvc-prod.lab.local", group=PROD, maintenance=False, vms=3, running=2):
    return dict(id="00000000-0000-4000-9000-%012d" % n, name=name + ".lab.local", computer_name=name, cluster=cluster,
                host_group=group, overall_state="MaintenanceMode" if maintenance else "OK", in_maintenance=maintenance,
                available_for_placement=not maintenance, total_memory_mb=262144, available_memory_mb=131072,
                running_vm_count=running, vm_count=vms)


def vm(n, name, host="hv-prod-01.lab.local", cluster="hvc-prod.lab.local", status="Running", **custom):
    return dict(id="00000000-0000-4000-8000-%012d" % n, name=name, computer_name=name + ".lab.local", status=status,
                host=host, cluster=cluster, is_highly_available=cluster is not None, memory_mb=4096,
                custom_properties=custom, last_restored_checkpoint_id=None)


HOSTS = [hv(1, "hv-prod-01"), hv(2, "hv-prod-02", maintenance=True, running=0),
         hv(3, "hv-test-01", cluster="hvc-test.lab.local", group="All Hosts\\Datacenter A\\Test"),
         hv(4, "hv-dev-01", cluster=None, group="All Hosts\\Development"),
         hv(5, "hv-dmz-01", cluster=None, group="All Hosts")]
VMS = [vm(1, "prod-sql01", Custom1="3", Owner="dba"), vm(2, "prod-web01", host="hv-prod-02.lab.local", Custom1="3"),
       vm(3, "dev-app01", host="hv-dev-01.lab.local", cluster=None, status="Paused", Custom1="5"),
       vm(4, "dev-legacy", host="hv-dev-01.lab.local", cluster=None),
       vm(5, "dev-legacy", host="hv-dev-01.lab.local", cluster=None, status="PowerOff")]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Options come from the file or the VMOPS_PSRP_* variables a test sets, never from the caller's shell."""
    for name in ENV_NAMES:
        monkeypatch.delenv("VMOPS_PSRP_" + name, raising=False)


@pytest.fixture
def runner(monkeypatch):
    """The strict fake runner the plugin gets from runner_from_params (whose arguments are recorded)."""
    fake = FakeRunner()
    fake.connected = CONNECTED
    fake.pipelines = 0
    fake.factory_calls = []

    def factory(params, product):
        fake.factory_calls.append((dict(params), product))
        return fake

    monkeypatch.setattr(vmm_inventory, "runner_from_params", factory)
    yield fake
    fake.assert_all_consumed()


def load_plugin():
    return load_inventory_plugin(NAME, vmm_inventory)


def write_source(tmp_path, config, name="test.vmm.yml", defaults=True):
    full = dict(plugin=NAME)
    if defaults:
        full.update(server="vmm01.test", auth="basic", username="LAB\\ansible", password=PASSWORD)
    full.update(config)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(full))
    return path


@pytest.fixture
def parse(tmp_path):
    """parse(config, cache=True, defaults=True) -> InventoryData, with the plugin loaded the way Ansible loads it."""

    def run(config, cache=True, defaults=True, loader=None):
        path = write_source(tmp_path, config, defaults=defaults)
        inventory = InventoryData()
        plugin = load_plugin()
        plugin.parse(inventory, loader or DataLoader(), str(path), cache=cache)
        if plugin.get_option("cache"):
            plugin.update_cache_if_changed()
        return inventory

    return run


def hosts_of(inventory, group):
    return sorted(h.name for h in inventory.groups[group].get_hosts())


def direct_hosts(inventory, group):
    return sorted(h.name for h in inventory.groups[group].hosts)


def hostvars(inventory, host):
    return inventory.get_host(host).get_vars()


def children(inventory, group):
    return sorted(g.name for g in inventory.groups[group].child_groups)


def test_hosts_grouped_by_cluster_host_group_and_standalone_from_one_listing(runner, parse):
    runner.expect("vmm.host_list", {}, HOSTS)
    inventory = parse({})

    assert runner.made == [("vmm.host_list", {})], "one host listing, nothing per host"
    assert runner.closed
    [(params, product)] = runner.factory_calls
    assert product == "vmm" and params["server"] == "vmm01.test" and params["password"] == PASSWORD
    assert params["auth"] == "basic" and params["ssl"] is True and params["validate_certs"] is True
    assert params["vmm_server"] is None and params["retries"] == 3

    fqdns = ["hv-dev-01.lab.local", "hv-dmz-01.lab.local", "hv-prod-01.lab.local", "hv-prod-02.lab.local",
             "hv-test-01.lab.local"]
    assert sorted(inventory.hosts) == fqdns
    assert hosts_of(inventory, "vmm_hosts") == fqdns
    assert hosts_of(inventory, "vmm_cluster_hvc_prod_lab_local") == ["hv-prod-01.lab.local", "hv-prod-02.lab.local"]
    assert hosts_of(inventory, "vmm_cluster_hvc_test_lab_local") == ["hv-test-01.lab.local"]
    assert hosts_of(inventory, "vmm_standalone") == ["hv-dev-01.lab.local", "hv-dmz-01.lab.local"]
    # Host groups nest like VMM's tree; a host is a direct member of its own host group only.
    assert children(inventory, "vmm_host_group_all_hosts") == ["vmm_host_group_all_hosts_datacenter_a",
                                                               "vmm_host_group_all_hosts_development"]
    assert children(inventory, "vmm_host_group_all_hosts_datacenter_a") == [
        "vmm_host_group_all_hosts_datacenter_a_production", "vmm_host_group_all_hosts_datacenter_a_test"]
    assert direct_hosts(inventory, "vmm_host_group_all_hosts") == ["hv-dmz-01.lab.local"]
    assert hosts_of(inventory, "vmm_host_group_all_hosts") == fqdns
    assert hosts_of(inventory, "vmm_host_group_all_hosts_datacenter_a") == [
        "hv-prod-01.lab.local", "hv-prod-02.lab.local", "hv-test-01.lab.local"]
    assert "vmm_vms" not in inventory.groups, "VMs are off by default"

    got = hostvars(inventory, "hv-prod-02.lab.local")
    assert {k: v for k, v in got.items() if k.startswith("vmm_")} == dict(
        vmm_type="host", vmm_id="00000000-0000-4000-9000-000000000002", vmm_fqdn="hv-prod-02.lab.local",
        vmm_computer_name="hv-prod-02", vmm_cluster="hvc-prod.lab.local", vmm_host_group=PROD,
        vmm_in_maintenance=True, vmm_overall_state="MaintenanceMode", vmm_available_for_placement=False,
        vmm_total_memory_mb=262144, vmm_available_memory_mb=131072, vmm_vm_count=3, vmm_running_vm_count=0,
        vmm_server="vmm01.lab.local")
    assert hostvars(inventory, "hv-dev-01.lab.local")["vmm_cluster"] is None


def test_vms_are_listed_once_and_grouped_by_host_cluster_and_status(runner, parse):
    runner.expect("vmm.host_list", {}, HOSTS)
    runner.expect("vmm.vm_list", {}, VMS)
    inventory = parse(dict(include_vms=True))

    assert [call[0] for call in runner.made] == ["vmm.host_list", "vmm.vm_list"]
    legacy = sorted(["dev-legacy", "dev-legacy_%s" % name_suffix(VMS[4]["id"])])
    assert hosts_of(inventory, "vmm_vms") == sorted(["dev-app01", "prod-sql01", "prod-web01"] + legacy)
    assert hosts_of(inventory, "vmm_vms_on_hv_dev_01_lab_local") == sorted(["dev-app01"] + legacy)
    assert hosts_of(inventory, "vmm_vms_in_hvc_prod_lab_local") == ["prod-sql01", "prod-web01"]
    assert hosts_of(inventory, "vmm_vm_status_paused") == ["dev-app01"]
    assert hosts_of(inventory, "vmm_vm_status_poweroff") == [legacy[1]]
    assert "prod-sql01" not in hosts_of(inventory, "vmm_hosts")
    assert "prod-sql01" not in hosts_of(inventory, "vmm_cluster_hvc_prod_lab_local"), "cluster groups hold hosts"

    got = hostvars(inventory, "prod-sql01")
    assert {k: v for k, v in got.items() if k.startswith("vmm_")} == dict(
        vmm_type="vm", vmm_id=VMS[0]["id"], vmm_vm_name="prod-sql01", vmm_computer_name="prod-sql01.lab.local",
        vmm_status="Running", vmm_host="hv-prod-01.lab.local", vmm_cluster="hvc-prod.lab.local",
        vmm_host_group=PROD, vmm_is_highly_available=True, vmm_memory_mb=4096,
        vmm_custom_properties={"Custom1": "3", "Owner": "dba"}, vmm_last_restored_checkpoint_id=None,
        vmm_server="vmm01.lab.local")
    assert hostvars(inventory, legacy[1])["vmm_vm_name"] == "dev-legacy"
    assert hostvars(inventory, "dev-app01")["vmm_host_group"] == "All Hosts\\Development"


@pytest.mark.parametrize("policy, plain", [("suffix", True), ("suffix_all", False)])
def test_duplicate_vm_names_are_suffixed_stably(runner, parse, policy, plain):
    runner.expect("vmm.host_list", {}, HOSTS[3:4])
    runner.expect("vmm.vm_list", {}, VMS[3:])
    inventory = parse(dict(include_vms=True, duplicate_names=policy))
    names = hosts_of(inventory, "vmm_vms")
    assert ("dev-legacy" in names) is plain and len(names) == 2
    assert "dev-legacy_%s" % name_suffix(VMS[4]["id"]) in names


def test_duplicate_vm_names_can_be_an_error(runner, parse):
    runner.expect("vmm.host_list", {}, HOSTS[3:4])
    runner.expect("vmm.vm_list", {}, VMS[3:])
    with pytest.raises(AnsibleParserError, match="Several VMs share a name") as failure:
        parse(dict(include_vms=True, duplicate_names="error"))
    assert VMS[3]["id"] in str(failure.value) and VMS[4]["id"] in str(failure.value)


def test_a_vm_named_like_a_host_never_merges_into_it(runner, parse):
    runner.expect("vmm.host_list", {}, HOSTS[3:4])
    runner.expect("vmm.vm_list", {}, [vm(9, "hv-dev-01", host="hv-dev-01.lab.local", cluster=None)])
    inventory = parse(dict(include_vms=True, host_names="computer_name"))
    assert hostvars(inventory, "hv-dev-01")["vmm_type"] == "host"
    assert hosts_of(inventory, "vmm_vms") == ["hv-dev-01_%s" % name_suffix(vm(9, "x")["id"])]


def test_group_by_prefix_and_short_host_names(runner, parse):
    runner.expect("vmm.host_list", {}, HOSTS)
    runner.expect("vmm.vm_list", {}, VMS[:2])
    inventory = parse(dict(include_vms=True, group_by=["cluster", "vm_status"], group_prefix="dc1_",
                           host_names="computer_name"))
    assert set(inventory.groups) == {"all", "ungrouped", "dc1_hosts", "dc1_vms", "dc1_cluster_hvc_prod_lab_local",
                                     "dc1_cluster_hvc_test_lab_local", "dc1_vm_status_running"}
    assert hosts_of(inventory, "dc1_cluster_hvc_prod_lab_local") == ["hv-prod-01", "hv-prod-02"]
    assert hostvars(inventory, "hv-prod-01")["vmm_fqdn"] == "hv-prod-01.lab.local"


def test_constructed_features_group_by_custom_property_values(runner, parse):
    runner.expect("vmm.host_list", {}, HOSTS)
    runner.expect("vmm.vm_list", {}, VMS)
    inventory = parse(dict(
        include_vms=True,
        keyed_groups=[dict(key="vmm_custom_properties.Custom1", prefix="batch"),
                      dict(key="vmm_custom_properties", prefix="cp")],
        groups=dict(drain_first="vmm_type == 'host' and vmm_host_group is search('Test')",
                    busy="vmm_type == 'host' and vmm_running_vm_count > 1"),
        compose=dict(ansible_host="vmm_computer_name", free_gib="(vmm_available_memory_mb | default(0)) // 1024"),
    ))
    assert hosts_of(inventory, "batch_3") == ["prod-sql01", "prod-web01"]
    assert hosts_of(inventory, "batch_5") == ["dev-app01"]
    assert hosts_of(inventory, "cp_Owner_dba") == ["prod-sql01"]
    assert hosts_of(inventory, "drain_first") == ["hv-test-01.lab.local"]
    assert "hv-prod-02.lab.local" not in hosts_of(inventory, "busy")
    assert hostvars(inventory, "prod-sql01")["ansible_host"] == "prod-sql01.lab.local"
    assert hostvars(inventory, "hv-prod-01.lab.local")["free_gib"] == 128


def test_strict_makes_a_broken_expression_an_error(runner, parse):
    runner.expect("vmm.host_list", {}, HOSTS[:1])
    with pytest.raises(Exception, match="no_such_variable"):
        parse(dict(strict=True, compose=dict(x="no_such_variable + 1")))


def test_vmm_text_is_data_never_a_template(runner, parse):
    evil_host = hv(7, "hv-{{ 6 * 7 }}", cluster="{{ lookup('ansible.builtin.pipe', 'id') }}", group="All Hosts\\{{ 1 }}")
    evil_vm = vm(7, "vm-{{ 7 * 6 }}", host=evil_host["name"], cluster=evil_host["cluster"], Custom1="{{ 2 * 2 }}")
    runner.expect("vmm.host_list", {}, [evil_host])
    runner.expect("vmm.vm_list", {}, [evil_vm])
    inventory = parse(dict(include_vms=True, compose=dict(shown="vmm_vm_name | default(vmm_fqdn)"),
                           keyed_groups=[dict(key="vmm_custom_properties.Custom1", prefix="batch")]))
    host, guest = "hv-{{ 6 * 7 }}.lab.local", "vm-{{ 7 * 6 }}"
    assert sorted(inventory.hosts) == sorted([host, guest])
    assert hostvars(inventory, host)["shown"] == host and hostvars(inventory, guest)["shown"] == guest
    assert hostvars(inventory, guest)["vmm_custom_properties"] == {"Custom1": "{{ 2 * 2 }}"}
    assert [g for g in inventory.groups if g.startswith("batch")] == ["batch____2___2___"]
    assert "vmm_cluster____lookup__ansible_builtin_pipe____id_____" in inventory.groups
    for value in (hostvars(inventory, guest)["vmm_vm_name"], hostvars(inventory, host)["vmm_cluster"],
                  hostvars(inventory, guest)["vmm_custom_properties"]["Custom1"],
                  hostvars(inventory, host)["vmm_host_group"]):
        assert_not_templatable(value)


def test_credentials_are_templated_or_taken_from_the_environment(runner, parse, monkeypatch):
    monkeypatch.setenv("UNIT_VMM_PASSWORD", PASSWORD)
    monkeypatch.setenv("VMOPS_PSRP_SERVER", "vmm-env.test")
    monkeypatch.setenv("VMOPS_PSRP_USERNAME", "LAB\\env-user")
    monkeypatch.setenv("VMOPS_PSRP_AUTH", "basic")
    monkeypatch.setenv("VMOPS_PSRP_SSL", "false")
    monkeypatch.setenv("VMOPS_PSRP_PORT", "15985")
    monkeypatch.setenv("VMOPS_PSRP_VMM_SERVER", "vmm02.test")
    monkeypatch.setenv("VMOPS_PSRP_VMM_USERNAME", "LAB\\hop")
    monkeypatch.setenv("VMOPS_PSRP_VMM_PASSWORD", VMM_PASSWORD)
    runner.expect("vmm.host_list", {}, [])
    parse(dict(password="{{ lookup('env', 'UNIT_VMM_PASSWORD') }}"), defaults=False)
    params = runner.factory_calls[0][0]
    assert len(runner.factory_calls) == 1
    assert params["server"] == "vmm-env.test" and params["username"] == "LAB\\env-user"
    assert params["password"] == PASSWORD and params["ssl"] is False and params["port"] == 15985
    assert (params["vmm_server"], params["vmm_username"], params["vmm_password"]) == ("vmm02.test", "LAB\\hop",
                                                                                      VMM_PASSWORD)


def test_an_inline_vaulted_password(runner, tmp_path, monkeypatch):
    from ansible.parsing import vault

    secret = vault.VaultSecret(b"unit-vault-key")
    if hasattr(vault, "VaultSecretsContext"):  # ansible-core 2.19+ decrypts with the process-wide secrets
        monkeypatch.setattr(vault.VaultSecretsContext, "_current", vault.VaultSecretsContext([("default", secret)]))
    encrypted = vault.VaultLib([("default", secret)]).encrypt(PASSWORD).decode()
    path = tmp_path / "vaulted.vmm.yml"
    path.write_text("plugin: %s\nserver: vmm01.test\nauth: basic\nusername: admin\npassword: !vault |\n%s" % (
        NAME, "".join("  %s\n" % line for line in encrypted.splitlines())))
    loader = DataLoader()
    loader.set_vault_secrets([("default", secret)])
    runner.expect("vmm.host_list", {}, [])
    load_plugin().parse(InventoryData(), loader, str(path), cache=False)
    assert runner.factory_calls[0][0]["password"] == PASSWORD


def test_cache_serves_the_second_parse_and_never_holds_the_password(runner, parse, tmp_path):
    cache_dir = tmp_path / "cache"
    config = dict(include_vms=True, cache=True, cache_plugin="jsonfile", cache_connection=str(cache_dir),
                  cache_timeout=3600)
    runner.expect("vmm.host_list", {}, HOSTS[:1])
    runner.expect("vmm.vm_list", {}, VMS[:1])
    first = parse(config)
    second = parse(config)  # nothing expected: the strict runner fails on any call
    assert len(runner.factory_calls) == 1
    assert sorted(second.hosts) == sorted(first.hosts) == ["hv-prod-01.lab.local", "prod-sql01"]
    assert hostvars(second, "prod-sql01")["vmm_host_group"] == PROD
    assert_not_templatable(hostvars(second, "prod-sql01")["vmm_vm_name"])
    [cached] = list(cache_dir.iterdir())
    text = cached.read_text()
    assert PASSWORD not in text and "prod-sql01" in text

    # --flush-cache lists again; without VMs (or as another user) is another cache entry.
    runner.expect("vmm.host_list", {}, HOSTS[:1])
    runner.expect("vmm.vm_list", {}, VMS[:1])
    parse(config, cache=False)
    runner.expect("vmm.host_list", {}, HOSTS[:1])
    assert sorted(parse(dict(config, include_vms=False)).hosts) == ["hv-prod-01.lab.local"]
    assert len(list(cache_dir.iterdir())) == 2


def test_cache_key_names_server_and_users_but_not_the_password(tmp_path):
    keys = set()
    for extra in (dict(password="p1"), dict(password="p2"), dict(server="other.test"), dict(username="auditor"),
                  dict(include_vms=True), dict(vmm_server="vmm02", vmm_username="hop", vmm_password="p3")):
        path = write_source(tmp_path, extra)
        plugin = load_plugin()
        plugin.loader = DataLoader()
        plugin._vars = {}
        plugin._read_config_data(str(path))
        key = plugin.get_cache_key(str(path))
        assert PASSWORD not in key and "p1" not in key and "p3" not in key
        keys.add(key)
    assert len(keys) == 5  # the two that differ only in password share a key


def test_a_powershell_error_names_server_and_operation_without_the_password(runner, parse):
    runner.expect("vmm.host_list", {}, PsrpError(
        "vmm01.test: vmm.connect: PowerShell error CannotConnectToVMMServer (ConnectionError): logon failed for "
        "LAB\\ansible with %s" % PASSWORD, server="vmm01.test", operation="vmm.connect"))
    with pytest.raises(AnsibleParserError) as failure:
        parse({})
    message = str(failure.value)
    assert message.startswith("vmops.datacenter.vmm: vmm01.test: vmm.connect: PowerShell error CannotConnectToVMMServer")
    assert PASSWORD not in message
    assert runner.closed


def test_a_failing_vm_listing_fails_the_source(runner, parse):
    runner.expect("vmm.host_list", {}, HOSTS[:1])
    runner.expect("vmm.vm_list", {}, PsrpError("vmm01.test: vmm.vm_list: ConnectionError: reset",
                                               server="vmm01.test", operation="vmm.vm_list"))
    with pytest.raises(AnsibleParserError, match="vmm.vm_list: ConnectionError"):
        parse(dict(include_vms=True))


@pytest.mark.parametrize("config, message", [
    (dict(server=None), "no server: set server in the inventory file or VMOPS_PSRP_SERVER"),
    (dict(password=None), "auth=basic needs username and password"),
    (dict(vmm_username="hop"), "vmm_username and vmm_password go together"),
    (dict(auth="certificate"), "auth=certificate needs certificate_pem and certificate_key_pem"),
    (dict(operation_timeout=0), "operation_timeout must be greater than zero"),
    (dict(retries=-1), "retries must not be negative"),
])
def test_bad_configuration_is_explained_before_connecting(runner, parse, config, message):
    with pytest.raises(AnsibleParserError, match=message):
        parse(config)
    assert runner.factory_calls == []


def test_only_vmm_yml_files_are_claimed(tmp_path):
    plugin = load_plugin()
    for name, claimed in (("prod.vmm.yml", True), ("vmm.yaml", True), ("prod.vmstore.yml", False), ("hosts.yml", False)):
        path = tmp_path / name
        path.write_text("plugin: vmops.datacenter.vmm\n")
        assert plugin.verify_file(str(path)) is claimed


def test_host_group_chain():
    assert vmm_inventory.host_group_chain("All Hosts\\A\\B") == ["All Hosts", "All Hosts\\A", "All Hosts\\A\\B"]
    assert vmm_inventory.host_group_chain(None) == []
