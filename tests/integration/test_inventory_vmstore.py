# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vmstore inventory plugin and the example inventory against the simulated lab, run as a user runs them:
``ansible-inventory -i <source> --list/--graph`` and ``ansible-playbook -i inventories/example``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from simulators.tintri import TintriLab
from simulators.tintri.seed import load_description

from .conftest import INTEGRATION, ROOT, TASK_SECONDS, Lab, ansible_environment

EXAMPLE = ROOT / "inventories" / "example"
UNSAFE = "__ansible_unsafe"
ANSIBLE_INVENTORY = str(Path(sys.executable).parent / "ansible-inventory")


class Inventory:
    def __init__(self, completed, passwords):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.output = completed.stdout + completed.stderr
        for password in passwords:
            assert password not in self.output, "a lab password appears in the ansible-inventory output"

    def raw(self):
        """The JSON as ansible-inventory prints it (and AWX reads it): untrusted text marked __ansible_unsafe."""
        assert self.rc == 0, self.output[-3000:]
        return json.loads(self.stdout)

    def data(self):
        """The JSON with the unsafe markers taken off."""
        assert self.rc == 0, self.output[-3000:]
        return json.loads(self.stdout, object_hook=lambda obj: obj["__ansible_unsafe"] if set(obj) == {UNSAFE} else obj)

    def hosts(self, group):
        data = self.data()
        return sorted(data.get(group, {}).get("hosts", []))

    def hostvars(self, host):
        return self.data()["_meta"]["hostvars"][host]


def connection_env(lab, **extra):
    """What a user (or an AWX credential) puts in the environment: the TINTRI_* variables of the modules."""
    env = dict(TINTRI_USERNAME=lab.endpoints["vmstore1"]["username"],
               TINTRI_PASSWORD=lab.endpoints["vmstore1"]["password"],
               TINTRI_CA_PATH=str(lab.pki.ca_path))
    env.update(extra)
    return env


def ansible_inventory(lab, source, *args, env=None):
    # A source that cannot be read fails the command, as it should in CI and AWX.
    environment = ansible_environment(lab, dict(env or {}, ANSIBLE_INVENTORY_UNPARSED_FAILED="true"))
    prefixes = ("TINTRI_", "VMOPS_VMSTORE", "VMOPS_PSRP_")
    for name in [n for n in environment if n.startswith(prefixes) and n not in (env or {})]:
        del environment[name]
    completed = subprocess.run([ANSIBLE_INVENTORY, "-i", str(source)] + list(args), cwd=str(ROOT), env=environment,
                               capture_output=True, text=True, timeout=300, check=False)
    return Inventory(completed, lab.passwords)


def source_file(lab, config, name="lab.vmstore.yml"):
    path = lab.workdir / name
    path.write_text(yaml.safe_dump(dict(plugin="vmops.datacenter.vmstore", **config)))
    return path


def both_vmstores(lab, **config):
    vmstore1, vmstore2 = lab.endpoints["vmstore1"], lab.endpoints["vmstore2"]
    servers = [vmstore1["hostname"],
               dict(hostname=vmstore2["hostname"], password="{{ lookup('ansible.builtin.env', 'LAB_DR_PASSWORD') }}")]
    return source_file(lab, dict(servers=servers, **config))


def dr_env(lab):
    return connection_env(lab, LAB_DR_PASSWORD=lab.endpoints["vmstore2"]["password"])


def test_list_and_graph_from_two_vmstores_with_constructed_features(lab):
    source = both_vmstores(
        lab,
        keyed_groups=[dict(key="tintri_hypervisor_manager", prefix="manager")],
        groups=dict(sql="tintri_vm_name is search('sql')"),
        compose=dict(vmops_gib="tintri_space_provisioned_gib * 1024", ansible_host="tintri_vm_name ~ '.lab.local'"),
    )
    vmstore1, vmstore2 = lab.endpoints["vmstore1"]["hostname"], lab.endpoints["vmstore2"]["hostname"]
    inventory = ansible_inventory(lab, source, "--list", env=dr_env(lab))

    # Live VMs only: the deleted historical dev-sql01 entry is not a second host.
    assert inventory.hosts("vmstore_" + vmstore1.replace(":", "_")) == [
        "app", "app01", "dev-sql01", "dev-sql02", "prod-sql01", "web-vm01"]
    assert inventory.hosts("vmstore_" + vmstore2.replace(":", "_")) == ["dr-util01"]
    assert inventory.hosts("datastore_tintri_dr") == ["dr-util01"]
    assert inventory.hosts("hypervisor_vmware") == ["app", "app01", "web-vm01"]
    assert inventory.hosts("service_group_production_sql") == ["prod-sql01"]
    assert inventory.hosts("power_off") == ["app01"]
    assert inventory.hosts("manager_vmm01_lab_local") == ["dev-sql01", "dev-sql02", "dr-util01", "prod-sql01"]
    assert inventory.hosts("sql") == ["dev-sql01", "dev-sql02", "prod-sql01"]

    prod = inventory.hostvars("prod-sql01")
    assert prod["tintri_vm_name"] == "prod-sql01" and prod["tintri_vmstore"] == vmstore1
    assert prod["tintri_hypervisor_type"] == "HYPERV" and prod["tintri_power_state"] == "on"
    assert prod["tintri_service_groups"] == ["Production SQL"] and prod["tintri_datastore"] == "tintri-prod"
    assert prod["tintri_cpus"] == 8 and prod["tintri_memory_mb"] == 32768 and prod["tintri_replication_enabled"]
    assert prod["tintri_latest_snapshot_name"] == "prod-sql01-pre-patch"
    assert prod["tintri_latest_snapshot_time"].endswith("Z")
    assert prod["vmops_gib"] == pytest.approx(prod["tintri_space_provisioned_gib"] * 1024)
    assert prod["ansible_host"] == "prod-sql01.lab.local"
    assert inventory.hostvars("dr-util01")["tintri_vmstore"] == vmstore2
    # API text reaches AWX (which reads this JSON) marked unsafe, so it is never templated there either.
    raw = inventory.raw()["_meta"]["hostvars"]["prod-sql01"]
    assert raw["tintri_vm_name"] == {UNSAFE: "prod-sql01"}
    assert raw["tintri_service_groups"] == [{UNSAFE: "Production SQL"}]

    graph = ansible_inventory(lab, source, "--graph", env=dr_env(lab))
    assert graph.rc == 0, graph.output[-3000:]
    assert "@service_group_production_sql:\n  |  |--prod-sql01" in graph.stdout
    assert "@power_off:\n  |  |--app01" in graph.stdout

    # One listing per VMstore (plus the info, login and logout), never a request per VM.
    for name in ("vmstore1", "vmstore2"):
        assert len(listings(lab, name)) == 2  # --list and --graph


def test_a_tgc_lists_the_vms_of_all_its_vmstores(lab):
    tgc = lab.endpoints["tgc1"]
    source = source_file(lab, dict(servers=[tgc["hostname"]], password="{{ lookup('ansible.builtin.env', 'LAB_TGC') }}",
                                   include=["*-sql*", "dr-*"], exclude=["dev-sql02"]))
    inventory = ansible_inventory(lab, source, "--list", env=connection_env(lab, LAB_TGC=tgc["password"]))
    data = inventory.data()
    hostvars = data["_meta"]["hostvars"]
    assert sorted(hostvars) == ["dev-sql01", "dr-util01", "prod-sql01"]
    assert hostvars["dr-util01"]["tintri_vmstore"] == lab.endpoints["vmstore2"]["hostname"]
    assert hostvars["prod-sql01"]["tintri_server"] == tgc["hostname"]


def test_the_password_never_appears_at_vvvv_and_a_wrong_one_is_explained(lab):
    source = both_vmstores(lab, compose=dict(shown="tintri_vm_name"))
    verbose = ansible_inventory(lab, source, "--list", "-vvvv", env=dr_env(lab))  # Inventory() greps the output
    assert verbose.rc == 0, verbose.output[-3000:]
    assert "prod-sql01" in verbose.stdout

    wrong = "Not-The-Lab-Password-42"
    failed = ansible_inventory(lab, source, "--list", "-vvvv", env=dr_env(lab) | {"TINTRI_PASSWORD": wrong})
    assert failed.rc != 0
    assert wrong not in failed.output
    assert lab.endpoints["vmstore1"]["hostname"] in failed.output
    assert "POST /api/v310/session/login failed with HTTP 403" in failed.output


def listings(lab, name):
    return [r for r in lab.admin(name).requests() if r["method"] == "GET" and r["path"].rstrip("/").endswith("/v310/vm")]


def test_the_cache_answers_the_second_run_and_holds_no_password(lab):
    cache_dir = lab.workdir / "inventory-cache"
    source = both_vmstores(lab, cache=True, cache_plugin="ansible.builtin.jsonfile",
                           cache_connection=str(cache_dir), cache_timeout=600)
    first = ansible_inventory(lab, source, "--list", env=dr_env(lab))
    second = ansible_inventory(lab, source, "--list", env=dr_env(lab))
    assert second.data() == first.data()
    assert len(listings(lab, "vmstore1")) == 1 and len(listings(lab, "vmstore2")) == 1
    cached = "".join(path.read_text() for path in cache_dir.iterdir())
    assert "prod-sql01" in cached
    for password in lab.passwords:
        assert password not in cached

    ansible_inventory(lab, source, "--list", "--flush-cache", env=dr_env(lab)).data()
    assert len(listings(lab, "vmstore1")) == 2


def test_an_inline_vaulted_password(lab):
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault_key = lab.workdir / "vault-key"
    vault_key.write_text("lab-vault-key\n")
    secret = VaultLib([("default", VaultSecret(b"lab-vault-key"))]).encrypt(lab.endpoints["vmstore1"]["password"])
    source = lab.workdir / "vaulted.vmstore.yml"
    source.write_text("plugin: vmops.datacenter.vmstore\nservers: [%s]\nusername: admin\npassword: !vault |\n%s" % (
        lab.endpoints["vmstore1"]["hostname"], "".join("  %s\n" % line for line in secret.decode().splitlines())))
    env = connection_env(lab)
    del env["TINTRI_PASSWORD"]
    inventory = ansible_inventory(lab, source, "--list", "--vault-password-file", str(vault_key), env=env)
    assert "prod-sql01" in inventory.data()["_meta"]["hostvars"]


def test_tls_is_verified_without_the_lab_ca(lab):
    source = source_file(lab, dict(servers=[lab.endpoints["vmstore1"]["hostname"]]))
    env = connection_env(lab)
    del env["TINTRI_CA_PATH"]
    failed = ansible_inventory(lab, source, "--list", env=env)
    assert failed.rc != 0
    assert "TLS verification failed" in failed.output and "ca_path" in failed.output


@pytest.fixture
def twin_lab(lab_pki, tmp_path):
    """The default lab plus a live namesake of web-vm01 on vmstore2 and a VM whose name is a Jinja expression."""
    description = load_description(None)
    vms = description["vmstores"]["vmstore2"]["vms"]
    vms.append(dict(name="web-vm01", hypervisor="VMWARE", host="esx09.lab.local", manager="vcenter01.lab.local",
                    disks=[{"name": "scsi0:0", "size": "1MiB", "boot": True}]))
    vms.append(dict(name="evil-{{ 6 * 7 }}", hypervisor="HYPERV", host="hv-dr-01.lab.local", manager="vmm01.lab.local",
                    disks=[{"name": "SCSI 0:0", "size": "1MiB", "boot": True}]))
    tintri = TintriLab(tmp_path / "state", description=description, pki=lab_pki, task_seconds=TASK_SECONDS)
    tintri.start()
    try:
        yield Lab(tintri, lab_pki, tmp_path)
    finally:
        tintri.stop()


def test_duplicate_names_and_jinja_in_api_text(twin_lab):
    lab = twin_lab
    source = both_vmstores(lab, compose=dict(shown_name="tintri_vm_name"))
    inventory = ansible_inventory(lab, source, "--list", env=dr_env(lab))
    hostvars = inventory.data()["_meta"]["hostvars"]
    twins = sorted(h for h in hostvars if hostvars[h]["tintri_vm_name"] == "web-vm01")
    assert len(twins) == 2 and twins[0] == "web-vm01" and twins[1].startswith("web-vm01_")
    assert hostvars["web-vm01"]["tintri_vmstore"] == lab.endpoints["vmstore1"]["hostname"]
    assert hostvars[twins[1]]["tintri_vmstore"] == lab.endpoints["vmstore2"]["hostname"]
    # The name is data, never a template.
    assert hostvars["evil-{{ 6 * 7 }}"]["shown_name"] == "evil-{{ 6 * 7 }}"
    assert "42" not in json.dumps(hostvars["evil-{{ 6 * 7 }}"]["shown_name"])

    again = ansible_inventory(lab, source, "--list", env=dr_env(lab))
    assert sorted(h for h in again.data()["_meta"]["hostvars"] if h.startswith("web-vm01")) == twins, "suffix not stable"

    strict = both_vmstores(lab, duplicate_names="error")
    failed = ansible_inventory(lab, strict, "--list", env=dr_env(lab))
    assert failed.rc != 0 and "Several live VMs share a name" in failed.output and "'web-vm01'" in failed.output


def example_env(vmm_lab):
    """The example inventory's environment, pointing at the lab (VMstores and VMM): no file is edited."""
    lab = vmm_lab.lab
    return connection_env(lab, VMOPS_VMSTORE_PROD=lab.endpoints["vmstore1"]["hostname"],
                          VMOPS_VMSTORE_DR=lab.endpoints["vmstore2"]["hostname"],
                          VMOPS_VMSTORE_DR_PASSWORD=lab.endpoints["vmstore2"]["password"], **vmm_lab.server.env)


def test_example_inventory_groups_and_group_vars_resolve_against_the_lab(vmm_lab, ansible):
    lab = vmm_lab.lab
    inventory = ansible_inventory(lab, EXAMPLE, "--list", env=example_env(vmm_lab))
    data = inventory.data()
    assert sorted(data["protect_to_s3"]["children"]) == ["protect_gold", "protect_silver"]
    assert inventory.hosts("protect_gold") == ["prod-sql01"]
    assert inventory.hosts("syncvm_dev") == ["dev-sql01", "dev-sql02"]
    assert data["_meta"]["hostvars"]["localhost"]["checkpoint_batch_property"] == "Custom1"

    # The Hyper-V hosts come from VMM (20-vmm.vmm.yml), VMs only from the VMstores.
    assert inventory.hosts("vmm_cluster_hvc_prod_lab_local") == [
        "hv-prod-01.lab.local", "hv-prod-02.lab.local", "hv-prod-03.lab.local"]
    assert "vmm_vms" not in data

    ansible(INTEGRATION / "example_inventory_check.yml", inventory=EXAMPLE, env=example_env(vmm_lab)).assert_ok()


def test_example_inventory_drives_the_syncvm_refresh_runbook_in_check_mode(vmm_lab, ansible):
    lab = vmm_lab.lab
    admin = lab.admin("vmstore1")
    before = admin.state()
    result = ansible(ROOT / "playbooks" / "syncvm_refresh.yml", inventory=EXAMPLE, check=True,
                     env=example_env(vmm_lab)).assert_ok()
    assert "dev-sql01" in result.output and "dev-sql02" in result.output
    assert "prod-sql01" in result.output
    after = admin.state()
    assert after["vms"] == before["vms"] and after["snapshots"] == before["snapshots"], "check mode changed the lab"


def test_example_inventory_drives_the_cluster_patch_runbook_in_check_mode(vmm_lab, configmgr_lab, ansible):
    cm = configmgr_lab.endpoint
    env = dict(example_env(vmm_lab), CONFIGMGR_SERVER=cm["hostname"], CONFIGMGR_USERNAME=cm["username"],
               CONFIGMGR_PASSWORD=cm["password"], CONFIGMGR_CA_PATH=cm["ca_path"])
    site = configmgr_lab.server.model
    rules_before = {cid: list(c["rules"]) for cid, c in site.state["collections"].items()}
    result = ansible(ROOT / "playbooks" / "cluster_patch.yml", inventory=EXAMPLE, check=True, env=env).assert_ok()
    flat = " ".join(result.output.split())
    assert "6 clustered hosts in 3 rounds" in flat and "hv-dev-01.lab.local, hv-dmz-01.lab.local" in flat, result.tail()
    assert not any(h["in_maintenance"] for h in vmm_lab.server.vmm.list_hosts())
    assert {cid: c["rules"] for cid, c in site.state["collections"].items()} == rules_before
    assert site.state["operations"] == []
