# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vmm inventory plugin against the PSRP simulator (VMM model of the default lab), run as a user runs it:
``ansible-inventory -i <name>.vmm.yml --list/--graph`` with the connection in the VMOPS_PSRP_* variables."""

from __future__ import annotations

import types

import yaml

from .test_inventory_vmstore import UNSAFE, ansible_inventory

PROD_NODES = ["hv-prod-01.lab.local", "hv-prod-02.lab.local", "hv-prod-03.lab.local"]
PROD_GROUP = "All Hosts\\Datacenter A\\Production"


def run(psrp_server, tmp_path, config, *args, env=None, name="lab.vmm.yml"):
    """ansible-inventory over a plugin file in tmp_path; the output is checked for the endpoint's password."""
    source = tmp_path / name
    source.write_text(yaml.safe_dump(dict(plugin="vmops.datacenter.vmm", **config)))
    lab = types.SimpleNamespace(workdir=tmp_path, passwords=[psrp_server.password])
    return ansible_inventory(lab, source, *args, env=psrp_server.env if env is None else env)


def pipelines(psrp_server):
    stats = psrp_server.stats()
    assert stats["shells_open"] == 0, "a runspace pool was left open"
    return stats["pipelines_by_op"], stats["shells_created"]


def test_hosts_by_cluster_host_group_and_standalone_list_and_graph(psrp_server, tmp_path):
    config = dict(groups=dict(closed="not vmm_available_for_placement"),
                  keyed_groups=[dict(key="vmm_overall_state", prefix="state")],
                  compose=dict(ansible_host="vmm_computer_name", free_gib="vmm_available_memory_mb // 1024"))
    inventory = run(psrp_server, tmp_path, config, "--list")
    data = inventory.data()

    assert inventory.hosts("vmm_hosts") == sorted(PROD_NODES + [
        "hv-dev-01.lab.local", "hv-dmz-01.lab.local", "hv-test-01.lab.local", "hv-test-02.lab.local",
        "hv-test-03.lab.local"])
    assert inventory.hosts("vmm_cluster_hvc_prod_lab_local") == PROD_NODES
    assert inventory.hosts("vmm_cluster_hvc_test_lab_local") == [
        "hv-test-01.lab.local", "hv-test-02.lab.local", "hv-test-03.lab.local"]
    assert inventory.hosts("vmm_standalone") == ["hv-dev-01.lab.local", "hv-dmz-01.lab.local"]
    assert inventory.hosts("vmm_host_group_all_hosts_datacenter_a_production") == PROD_NODES
    assert sorted(data["vmm_host_group_all_hosts"]["children"]) == [
        "vmm_host_group_all_hosts_datacenter_a", "vmm_host_group_all_hosts_development"]
    assert inventory.hosts("vmm_host_group_all_hosts") == ["hv-dmz-01.lab.local"]  # its direct members
    assert inventory.hosts("closed") == ["hv-dmz-01.lab.local"]
    assert inventory.hosts("state_OK") == inventory.hosts("vmm_hosts")
    assert "vmm_vms" not in data and "prod-sql01" not in data["_meta"]["hostvars"], "VMs are off by default"

    node = inventory.hostvars("hv-prod-01.lab.local")
    assert node["vmm_type"] == "host" and node["vmm_cluster"] == "hvc-prod.lab.local"
    assert node["vmm_host_group"] == PROD_GROUP and node["vmm_in_maintenance"] is False
    assert node["vmm_computer_name"] == "hv-prod-01" and node["ansible_host"] == "hv-prod-01"
    assert node["vmm_total_memory_mb"] == 256 * 1024 and node["free_gib"] > 0
    assert node["vmm_vm_count"] >= node["vmm_running_vm_count"] > 0 and node["vmm_server"] == "vmm01.lab.local"
    assert inventory.hostvars("hv-dev-01.lab.local")["vmm_cluster"] is None
    raw = inventory.raw()["_meta"]["hostvars"]["hv-prod-01.lab.local"]
    assert raw["vmm_host_group"] == {UNSAFE: PROD_GROUP}, "VMM text reaches AWX marked unsafe"

    graph = run(psrp_server, tmp_path, config, "--graph")
    assert graph.rc == 0, graph.output[-3000:]
    assert "@vmm_standalone:\n  |  |--hv-dev-01.lab.local\n  |  |--hv-dmz-01.lab.local" in graph.stdout
    assert ("@vmm_host_group_all_hosts_datacenter_a:\n  |  |  |--@vmm_host_group_all_hosts_datacenter_a_production:\n"
            "  |  |  |  |--hv-prod-01.lab.local") in graph.stdout

    # Per run: one runspace pool, the connect step and one host listing; nothing per host.
    by_op, shells = pipelines(psrp_server)
    assert by_op == {"vmm.connect": 2, "vmm.host_list": 2} and shells == 2


def test_vms_grouped_by_host_status_and_custom_property_values(psrp_server, tmp_path):
    config = dict(include_vms=True,
                  keyed_groups=[dict(key="vmm_custom_properties.Custom1", prefix="batch"),
                                dict(key="vmm_custom_properties.Owner", prefix="owner")],
                  groups=dict(sql="vmm_type == 'vm' and vmm_vm_name is search('sql')"))
    inventory = run(psrp_server, tmp_path, config, "--list")
    hostvars = inventory.data()["_meta"]["hostvars"]

    assert len(inventory.hosts("batch_7")) == 12
    assert inventory.hosts("batch_3") == ["prod-app01", "prod-batch01", "prod-sql01", "prod-web01", "prod-web02"]
    assert inventory.hosts("owner_dba") == ["prod-sql01"] and inventory.hosts("sql") == ["prod-sql01"]
    assert inventory.hosts("vmm_vm_status_paused") == ["dev-app02"]
    assert "prod-app01" in inventory.hosts("vmm_vm_status_poweroff")
    assert set(inventory.hosts("vmm_vms_on_hv_dev_01_lab_local")) >= {"dev-app01", "dev-app02"}
    assert "prod-sql01" in inventory.hosts("vmm_vms_in_hvc_prod_lab_local")
    assert "dev-app01" not in inventory.hosts("vmm_hosts")
    # The two VMs named dev-legacy stay two hosts; the name in VMM is kept.
    legacy = sorted(h for h in hostvars if hostvars[h].get("vmm_vm_name") == "dev-legacy")
    assert len(legacy) == 2 and legacy[0] == "dev-legacy" and legacy[1].startswith("dev-legacy_")
    sql = hostvars["prod-sql01"]
    assert sql["vmm_type"] == "vm" and sql["vmm_host"] == "hv-prod-01.lab.local"
    assert sql["vmm_host_group"] == PROD_GROUP and sql["vmm_is_highly_available"] is True
    assert sql["vmm_custom_properties"] == {"Custom1": "3", "Owner": "dba", "Tier": "gold"}

    by_op, shells = pipelines(psrp_server)
    assert by_op == {"vmm.connect": 1, "vmm.host_list": 1, "vmm.vm_list": 1} and shells == 1


def test_the_password_never_appears_at_vvvv_and_a_wrong_one_is_explained(psrp_server, tmp_path):
    verbose = run(psrp_server, tmp_path, dict(include_vms=True), "--list", "-vvvv")  # the output is grepped
    assert verbose.rc == 0, verbose.output[-3000:]
    assert "hv-prod-01.lab.local" in verbose.stdout
    assert "listed 8 hosts and" in verbose.output and "in 3 pipelines" in verbose.output

    wrong = "Not-The-Lab-Password-42"
    failed = run(psrp_server, tmp_path, {}, "--list", "-vvvv", env=dict(psrp_server.env, VMOPS_PSRP_PASSWORD=wrong))
    assert failed.rc != 0
    assert wrong not in failed.output
    # The runspace pool opens with the first listing, so that operation is named.
    assert "vmops.datacenter.vmm: localhost: vmm.host_list: authentication failed (auth=basic" in failed.output


def test_credentials_in_the_file_as_jinja(psrp_server, tmp_path):
    env = dict(psrp_server.env, LAB_VMM_PASSWORD=psrp_server.password)
    del env["VMOPS_PSRP_PASSWORD"], env["VMOPS_PSRP_SERVER"]
    config = dict(server="{{ 'local' ~ 'host' }}", password="{{ lookup('ansible.builtin.env', 'LAB_VMM_PASSWORD') }}")
    inventory = run(psrp_server, tmp_path, config, "--list", env=env)
    assert len(inventory.hosts("vmm_hosts")) == 8


def test_the_cache_answers_the_second_run_and_holds_no_password(psrp_server, tmp_path):
    cache_dir = tmp_path / "inventory-cache"
    config = dict(include_vms=True, cache=True, cache_plugin="ansible.builtin.jsonfile",
                  cache_connection=str(cache_dir), cache_timeout=600)
    first = run(psrp_server, tmp_path, config, "--list")
    second = run(psrp_server, tmp_path, config, "--list")
    assert second.data() == first.data()
    assert pipelines(psrp_server)[0]["vmm.host_list"] == 1
    cached = "".join(path.read_text() for path in cache_dir.iterdir())
    assert "hv-prod-01.lab.local" in cached and psrp_server.password not in cached

    run(psrp_server, tmp_path, config, "--list", "--flush-cache").data()
    assert pipelines(psrp_server)[0]["vmm.host_list"] == 2


def test_tls_is_verified_without_the_lab_ca(psrp_server, tmp_path):
    env = dict(psrp_server.env)
    del env["VMOPS_PSRP_CA_PATH"]
    failed = run(psrp_server, tmp_path, {}, "--list", env=env)
    assert failed.rc != 0
    assert "vmops.datacenter.vmm: localhost: vmm.host_list: SSLError" in failed.output
