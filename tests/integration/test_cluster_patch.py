# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster_patch runbook against the PSRP simulator (VMM hosts, clusters, maintenance mode) and the ConfigMgr
AdminService simulator (collections, the deployment, client notification, compliance over time), both of the default
lab: hvc-prod and hvc-test with three nodes each, stand-alone hv-dev-01."""

from __future__ import annotations

import json
import threading
import time

from .conftest import COLLECTIONS, ROOT

PLAYBOOK = ROOT / "playbooks" / "cluster_patch.yml"
DEPLOYMENT = "Hyper-V hosts 2026-11 - Hyper-V patch"
PROD = ["hv-prod-01.lab.local", "hv-prod-02.lab.local", "hv-prod-03.lab.local"]
TEST = ["hv-test-01.lab.local", "hv-test-02.lab.local", "hv-test-03.lab.local"]


def run_vars(vmm_lab, configmgr_lab, hosts, **more):
    """Extra vars of a run; without a ConfigMgr lab (the vmm method) there is no ConfigMgr connection."""
    psrp = vmm_lab.endpoint
    data = dict(
        cluster_patch_hosts=hosts, cluster_patch_deployment=DEPLOYMENT, cluster_patch_poll_interval=0.5,
        cluster_patch_vmm_connection={k: psrp[k] for k in ("server", "port", "ssl", "auth", "encryption", "username",
                                                           "password", "ca_path")},
        cluster_patch_report_file=str(vmm_lab.lab.workdir / "patch-report.json"))
    if configmgr_lab is not None:
        cm = configmgr_lab.endpoint
        data["cluster_patch_configmgr_connection"] = dict(server=cm["hostname"], username=cm["username"],
                                                          password=cm["password"], ca_path=cm["ca_path"])
    data.update(more)
    return data


def report(vmm_lab):
    return json.loads((vmm_lab.lab.workdir / "patch-report.json").read_text())


def audit(vmm_lab):
    path = vmm_lab.lab.workdir / "audit" / "cluster_patch.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def recap_changed(output):
    recap = output[output.rindex("PLAY RECAP"):]
    return sum(int(part.split("=")[1]) for part in recap.split() if part.startswith("changed="))


def maintenance(vmm):
    return {h["name"]: h["in_maintenance"] for h in vmm.list_hosts()}


def members(cm, collection_id):
    """Devices with a direct rule in the collection (evaluation may still be pending)."""
    model = cm.server.model
    return sorted(model.state["devices"][str(rule["ResourceID"])]["Name"]
                  for rule in model.collection(collection_id)["rules"])


def windows(vmm_lab):
    """Per host, (start, end) indexes of its maintenance_start and maintenance_end records in the trail."""
    out = {}
    for index, record in enumerate(audit(vmm_lab)):
        if record["step"] in ("maintenance_start", "maintenance_end"):
            out.setdefault(record["target"], []).append(index)
    return out


def test_two_clusters_one_node_each_at_a_time_then_a_rerun_changes_nothing(vmm_lab, configmgr_lab, ansible):
    vmm = vmm_lab.server.vmm
    running_before = sorted(vm["id"] for vm in vmm.list_vms(statuses=["Running"]))
    extra = dict(vmm_lab.extra_vars(), **run_vars(vmm_lab, configmgr_lab, PROD + TEST + ["hv-dev-01.lab.local"]))

    planned = ansible(PLAYBOOK, extra, check=True).assert_ok()
    flat = " ".join(planned.output.split())
    assert "6 clustered hosts in 3 rounds" in flat and "hv-prod-01.lab.local, hv-test-01.lab.local" in flat, planned.tail()
    assert not any(maintenance(vmm).values())
    assert members(configmgr_lab, "LAB00011") == [] and members(configmgr_lab, "LAB00012") == []
    assert configmgr_lab.server.model.state["operations"] == []

    ansible(PLAYBOOK, extra).assert_ok()
    data = report(vmm_lab)
    assert sorted(h["host"] for h in data["hosts"]) == sorted(PROD + TEST)
    assert {h["result"] for h in data["hosts"]} == {"patched"} and data["held"] == ["hv-dev-01.lab.local"]
    assert data["not_reached"] == []
    assert not any(maintenance(vmm).values()), "every host is back in service"
    assert members(configmgr_lab, "LAB00011") == [], "the patch collection is empty again"
    assert members(configmgr_lab, "LAB00012") == ["HV-DEV-01"]
    # Highly available VMs were live-migrated and still run; the others were saved, none was lost.
    after = {vm["id"]: vm["status"] for vm in vmm.list_vms()}
    assert all(after[vid] in ("Running", "Saved") for vid in running_before)
    # Never two nodes of one cluster out at once: each node's window closes before the next one of its cluster opens.
    spans = windows(vmm_lab)
    for cluster in (PROD, TEST):
        for first, second in zip(cluster, cluster[1:], strict=False):
            assert spans[first][-1] < spans[second][0], (first, second, spans)
    # The two clusters were patched side by side: the first nodes of both were out at the same time.
    assert spans[TEST[0]][0] < spans[PROD[0]][-1]
    migrated = sum(len(h["migrated"]) for h in data["hosts"])
    assert migrated > 0

    operations = len(configmgr_lab.server.model.state["operations"])
    again = ansible(PLAYBOOK, extra).assert_ok()
    assert recap_changed(again.output) == 0, again.tail()
    assert {h["result"] for h in report(vmm_lab)["hosts"]} == {"ok"}
    assert len(configmgr_lab.server.model.state["operations"]) == operations


def test_the_hosts_can_come_from_a_configmgr_collection(vmm_lab, configmgr_lab, ansible):
    """Seed 4's input: the members of a collection; one that VMM does not manage (a file server) is left alone."""
    model = configmgr_lab.server.model
    fs01 = model.add_device("fs-01")
    model.add_direct_rules("LAB00010", [{"RuleName": "FS-01", "ResourceID": fs01["ResourceID"],
                                         "ResourceClassName": "SMS_R_System"}])
    model.evaluate_now("LAB00010")
    extra = dict(vmm_lab.extra_vars(), **run_vars(vmm_lab, configmgr_lab, [],
                                                  cluster_patch_source_collection="Hyper-V hosts to patch"))
    planned = ansible(PLAYBOOK, extra, check=True).assert_ok()
    flat = " ".join(planned.output.split())
    assert "6 clustered hosts in 3 rounds" in flat, planned.tail()
    assert "to the holding collection Hyper-V holding: hv-dev-01.lab.local" in flat
    assert "Members of Hyper-V hosts to patch that VMM does not manage, left alone: FS-01" in flat
    assert "FS-01 | - | left alone | not a Hyper-V host of VMM" in flat
    assert not any(maintenance(vmm_lab.server.vmm).values())
    assert members(configmgr_lab, "LAB00011") == [] and members(configmgr_lab, "LAB00012") == []
    assert model.state["operations"] == []
    requests = configmgr_lab.server.requests.list()
    assert {r["method"] for r in requests} == {"GET"}

    # An empty source collection stops the run before anything is read from VMM, saying why.
    empty = ansible(PLAYBOOK, dict(extra, cluster_patch_source_collection="Hyper-V holding"), check=True).assert_failed()
    assert "The ConfigMgr collection Hyper-V holding has no evaluated members" in " ".join(empty.output.split())


def test_a_failed_install_stops_the_rollout_and_leaves_the_host_in_maintenance(vmm_lab, configmgr_lab, ansible):
    vmm = vmm_lab.server.vmm
    configmgr_lab.server.model.set_device_faults("hv-prod-02", {"install_error": -2147023293})
    result = ansible(PLAYBOOK, dict(vmm_lab.extra_vars(), **run_vars(vmm_lab, configmgr_lab, PROD))).assert_failed()
    flat = " ".join(result.output.split())
    assert "The installation failed on hv-prod-02.lab.local (error" in flat and "stays in maintenance mode" in flat
    data = report(vmm_lab)
    results = {h["host"]: h["result"] for h in data["hosts"]}
    assert results == {PROD[0]: "patched", PROD[1]: "failed", PROD[2]: "not reached"}
    assert data["not_reached"] == [PROD[2]]
    state = maintenance(vmm)
    assert state[PROD[1]] is True and state[PROD[0]] is False and state[PROD[2]] is False
    assert members(configmgr_lab, "LAB00011") == ["HV-PROD-02"]

    # Fixed by hand, the next run finishes the failed host and carries on; the patched one is left alone.
    configmgr_lab.server.model.set_device_faults("hv-prod-02", {"install_error": None})
    ansible(PLAYBOOK, dict(vmm_lab.extra_vars(), **run_vars(vmm_lab, configmgr_lab, PROD))).assert_ok()
    results = {h["host"]: h["result"] for h in report(vmm_lab)["hosts"]}
    assert results == {PROD[0]: "ok", PROD[1]: "patched", PROD[2]: "patched"}
    assert not any(maintenance(vmm).values())


def test_a_restart_that_never_clears_times_out_with_a_clear_report(vmm_lab, configmgr_lab, ansible):
    configmgr_lab.server.model.set_device_faults("hv-test-01", {"stuck_reboot": True})
    extra = run_vars(vmm_lab, configmgr_lab, TEST, cluster_patch_reboot_timeout=4)
    result = ansible(PLAYBOOK, dict(vmm_lab.extra_vars(), **extra)).assert_failed()
    flat = " ".join(result.output.split())
    assert "hv-test-01.lab.local is not compliant for" in flat and "restart pending True" in flat, result.tail()
    data = report(vmm_lab)
    assert [h["result"] for h in data["hosts"]] == ["failed", "not reached", "not reached"]
    assert data["not_reached"] == TEST[1:]
    assert maintenance(vmm_lab.server.vmm)["hv-test-01.lab.local"] is True


def test_a_full_cluster_is_not_drained(vmm_lab, configmgr_lab, ansible):
    vmm = vmm_lab.server.vmm
    # A reserve larger than the cluster: the other nodes can never take hv-prod-01's VMs.
    result = ansible(PLAYBOOK, dict(vmm_lab.extra_vars(), **run_vars(
        vmm_lab, configmgr_lab, PROD, cluster_patch_memory_reserve_mb=10 ** 7))).assert_failed()
    flat = " ".join(result.output.split())
    assert "the other nodes have" in flat and "not drained" in flat, result.tail()
    assert not any(maintenance(vmm).values())
    assert configmgr_lab.server.model.state["operations"] == []


def test_unknown_host_changes_nothing(vmm_lab, configmgr_lab, ansible):
    result = ansible(PLAYBOOK, dict(vmm_lab.extra_vars(), **run_vars(
        vmm_lab, configmgr_lab, ["hv-prod-01.lab.local", "hv-nowhere.lab.local"]))).assert_failed()
    assert "manages no host called hv-nowhere.lab.local" in " ".join(result.output.split()), result.tail()
    assert not any(maintenance(vmm_lab.server.vmm).values())


def test_move_vms_back_returns_the_drained_vms_to_their_hosts(vmm_lab, configmgr_lab, ansible):
    vmm = vmm_lab.server.vmm
    before = {vm["id"]: vm for vm in vmm.list_vms(clusters=["hvc-prod.lab.local"], statuses=["Running"])}
    home = {vid: vm["host"] for vid, vm in before.items() if vm["is_highly_available"]}
    extra = dict(vmm_lab.extra_vars(), **run_vars(vmm_lab, configmgr_lab, PROD, cluster_patch_move_vms_back=True))

    planned = ansible(PLAYBOOK, extra, check=True).assert_ok()
    flat = " ".join(planned.output.split())
    assert "hv-prod-01.lab.local | moved back: " in flat and "prod-web01" in flat and "(planned)" in flat, planned.tail()
    assert {vm["id"]: vm["host"] for vm in vmm.list_vms(ids=list(home))} == home

    # prod-web01 is stopped after the drain moved it off hv-prod-01: it is skipped, not moved back.
    web01 = vmm.vms_named("prod-web01")[0]["id"]
    stop = threading.Event()

    def stop_web01_once_moved():
        while not stop.is_set():
            if vmm.list_vms(ids=[web01])[0]["host"] != home[web01]:
                vmm.update_vm(web01, status="PowerOff")
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=stop_web01_once_moved, daemon=True)
    watcher.start()
    try:
        ansible(PLAYBOOK, extra).assert_ok()
    finally:
        stop.set()
        watcher.join(5)
    data = report(vmm_lab)
    assert {h["result"] for h in data["hosts"]} == {"patched"}
    after = {vm["id"]: vm for vm in vmm.list_vms(ids=list(home))}
    back = {vid for vid in home if vid != web01}
    assert {vid: after[vid]["host"] for vid in back} == {vid: home[vid] for vid in back}
    assert all(after[vid]["status"] == "Running" for vid in back)
    assert after[web01]["status"] == "PowerOff" and after[web01]["host"] != home[web01]
    # Every host reports the VMs that went back to it, by name, and prod-web01 as skipped.
    names = {vid: before[vid]["name"] for vid in home}
    outcomes = {h["host"]: h for h in data["hosts"]}
    for host in PROD:
        expected = sorted(names[vid] for vid in back if home[vid] == host)
        assert sorted(outcomes[host]["moved_back"]) == expected, (host, outcomes[host])
        assert outcomes[host]["move_back_error"] is None
    assert outcomes[PROD[0]]["move_back_skipped"] == [{"id": web01, "name": "prod-web01",
                                                       "reason": "not running (PowerOff)"}]
    records = [r for r in audit(vmm_lab) if r["step"] == "vms_moved_back"]
    assert sorted(r["target"] for r in records) == PROD and {r["result"] for r in records} == {"ok"}
    # Each host's VMs go back after its return to service and before the next node of the cluster is drained.
    steps = [(r["target"], r["step"]) for r in audit(vmm_lab)]
    for first, second in zip(PROD, PROD[1:], strict=False):
        assert steps.index((first, "maintenance_end")) < steps.index((first, "vms_moved_back")) \
            < steps.index((second, "maintenance_start"))


# --- cluster_patch_method: vmm (VMM's own update remediation against a baseline) ----------------------------------

BASELINE = "Hyper-V hosts 2026-11"


def vmm_vars(vmm_lab, hosts, **more):
    settings = dict(cluster_patch_method="vmm", cluster_patch_deployment=None, cluster_patch_baseline=BASELINE)
    settings.update(more)
    return dict(vmm_lab.extra_vars(), **run_vars(vmm_lab, None, hosts, **settings))


def baseline_state(vmm, hosts):
    return {item["host_name"]: item["compliance"] for item in vmm.compliance(hosts, BASELINE)}


def test_vmm_method_patches_one_node_per_cluster_at_a_time_then_a_rerun_changes_nothing(vmm_lab, ansible):
    vmm = vmm_lab.server.vmm
    extra = vmm_vars(vmm_lab, PROD + TEST + ["hv-dev-01.lab.local"])

    planned = ansible(PLAYBOOK, extra, check=True).assert_ok()
    flat = " ".join(planned.output.split())
    assert "6 clustered hosts in 3 rounds" in flat and "VMM baseline Hyper-V hosts 2026-11 through update remediation" in flat
    assert "Not in a cluster, not patched: hv-dev-01.lab.local" in flat, planned.tail()
    assert not any(maintenance(vmm).values())
    assert "vmm.update_remediate" not in vmm_lab.server.stats()["pipelines_by_op"]
    assert set(baseline_state(vmm, PROD + TEST).values()) == {"NonCompliant"}

    ansible(PLAYBOOK, extra).assert_ok()
    data = report(vmm_lab)
    assert sorted(h["host"] for h in data["hosts"]) == sorted(PROD + TEST)
    assert {h["result"] for h in data["hosts"]} == {"patched"} and data["held"] == ["hv-dev-01.lab.local"]
    assert all(h["rebooted"] for h in data["hosts"]), data["hosts"]
    assert not any(maintenance(vmm).values()), "every host is back in service"
    assert set(baseline_state(vmm, PROD + TEST).values()) == {"Compliant"}
    assert baseline_state(vmm, ["hv-dev-01"]) == {"hv-dev-01.lab.local": "NonCompliant"}, "stand-alone hosts are not patched"
    # Each node was remediated while drained: its window holds its restart, and the windows of one cluster follow
    # each other while the two clusters go side by side.
    trail = audit(vmm_lab)
    spans = windows(vmm_lab)
    for record_index, record in enumerate(trail):
        if record["step"] == "restart":
            start, end = spans[record["target"]]
            assert start < record_index < end, record
    for cluster in (PROD, TEST):
        for first, second in zip(cluster, cluster[1:], strict=False):
            assert spans[first][-1] < spans[second][0], (first, second, spans)
    assert spans[TEST[0]][0] < spans[PROD[0]][-1]
    assert vmm_lab.server.stats()["pipelines_by_op"]["vmm.update_remediate"] == 6

    again = ansible(PLAYBOOK, extra).assert_ok()
    assert recap_changed(again.output) == 0, again.tail()
    assert {h["result"] for h in report(vmm_lab)["hosts"]} == {"ok"}
    assert vmm_lab.server.stats()["pipelines_by_op"]["vmm.update_remediate"] == 6


def test_vmm_method_failed_update_stops_the_rollout_with_the_host_in_maintenance(vmm_lab, ansible):
    vmm = vmm_lab.server.vmm
    vmm.set_update_faults("hv-prod-02", fail_update="KB5066131")
    result = ansible(PLAYBOOK, vmm_vars(vmm_lab, PROD)).assert_failed()
    flat = " ".join(result.output.split())
    assert "Updates not installed: KB5066131" in flat and "stays in maintenance mode" in flat, result.tail()
    data = report(vmm_lab)
    results = {h["host"]: h["result"] for h in data["hosts"]}
    assert results == {PROD[0]: "patched", PROD[1]: "failed", PROD[2]: "not reached"}
    assert data["not_reached"] == [PROD[2]]
    failed = next(h for h in data["hosts"] if h["host"] == PROD[1])
    assert "KB5066131" in failed["message"] and failed["in_maintenance"] is True
    state = maintenance(vmm)
    assert state[PROD[1]] is True and state[PROD[0]] is False and state[PROD[2]] is False
    assert baseline_state(vmm, PROD) == {PROD[0]: "Compliant", PROD[1]: "Error", PROD[2]: "NonCompliant"}
    assert [r["target"] for r in audit(vmm_lab) if r["step"] == "patch_start"] == PROD[:2], "hv-prod-03 untouched"

    # Fixed, the next run finishes the failed host and carries on; the patched one is left alone.
    vmm.set_update_faults("hv-prod-02", fail_update=None)
    ansible(PLAYBOOK, vmm_vars(vmm_lab, PROD)).assert_ok()
    results = {h["host"]: h["result"] for h in report(vmm_lab)["hosts"]}
    assert results == {PROD[0]: "ok", PROD[1]: "patched", PROD[2]: "patched"}
    assert not any(maintenance(vmm).values())


def test_vmm_method_restart_that_never_completes_times_out_with_the_host_in_maintenance(vmm_lab, ansible):
    vmm_lab.server.vmm.set_update_faults("hv-test-01", stuck_restart=True)
    extra = vmm_vars(vmm_lab, TEST, cluster_patch_install_timeout=3, cluster_patch_reboot_timeout=2)
    result = ansible(PLAYBOOK, extra).assert_failed()
    flat = " ".join(result.output.split())
    assert "did not finish in time" in flat and "Not Responding (Restarting)" in flat, result.tail()
    assert [h["result"] for h in report(vmm_lab)["hosts"]] == ["failed", "not reached", "not reached"]
    assert maintenance(vmm_lab.server.vmm)["hv-test-01.lab.local"] is True


def test_vmm_method_without_a_baseline_stops_in_the_plan(vmm_lab, ansible):
    extra = vmm_vars(vmm_lab, PROD, cluster_patch_baseline=None)
    result = ansible(PLAYBOOK, extra).assert_failed()
    assert "set cluster_patch_baseline" in " ".join(result.output.split()), result.tail()
    assert not any(maintenance(vmm_lab.server.vmm).values())


# cluster_patch_method win_updates: ansible.windows.win_updates runs on each Hyper-V host itself. The test double of
# that collection (tests/integration/doubles) keeps each host's Windows Update state in a JSON file; the hosts are
# reached with the local connection. No ConfigMgr lab is started, so any ConfigMgr call would fail the run.
DOUBLES = ROOT / "tests" / "integration" / "doubles"
SECURITY = ("Security Updates", "Microsoft Server operating system-21H2")


def wu_update(number, title, categories=SECURITY, **more):
    return dict(id="%08x-1111-4222-8333-%012d" % (number, number), title="%s (KB%d)" % (title, number), kb=[str(number)],
                categories=list(categories), **more)


def wu_lab(vmm_lab, hosts):
    """The double's state file (every host with its pending updates), an inventory that reaches the hosts locally, and
    the environment that puts the double on the collections path."""
    state = vmm_lab.lab.workdir / "win_updates.json"
    state.write_text(json.dumps({"hosts": hosts}))
    inventory = vmm_lab.lab.workdir / "hosts.yml"
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": local}, "children": {
        "hyperv": {"hosts": {name: {} for name in hosts}, "vars": local}}}}))
    env = {"ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (COLLECTIONS, DOUBLES), "WIN_UPDATES_DOUBLE_STATE": str(state)}
    return state, inventory, env


def wu_vars(vmm_lab, hosts, **more):
    psrp = vmm_lab.endpoint
    data = dict(
        vmm_lab.extra_vars(), cluster_patch_hosts=hosts, cluster_patch_method="win_updates", cluster_patch_poll_interval=0.5,
        cluster_patch_vmm_connection={k: psrp[k] for k in ("server", "port", "ssl", "auth", "encryption", "username",
                                                           "password", "ca_path")},
        cluster_patch_report_file=str(vmm_lab.lab.workdir / "patch-report.json"))
    data.update(more)
    return data


def wu_state(state):
    return json.loads(state.read_text())["hosts"]


def test_win_updates_patches_one_node_per_cluster_then_a_rerun_changes_nothing(vmm_lab, ansible):
    vmm = vmm_lab.server.vmm
    hosts = {}
    for name in PROD:
        # The cumulative update needs a restart, after which the next one becomes applicable; the definition update
        # is outside the default categories and is never installed.
        hosts[name] = {"updates": [
            wu_update(5048654, "2026-11 Cumulative Update for Microsoft server operating system", reboot_required=True),
            wu_update(5049001, "2026-11 Servicing Stack Update", after_boots=1),
            wu_update(2267602, "Security Intelligence Update for Microsoft Defender Antivirus",
                      categories=["Definition Updates"])]}
    for name in TEST:
        hosts[name] = {"updates": [wu_update(5050002, "2026-11 Update Rollup for Windows Server",
                                             categories=["Update Rollups"])]}
    state, inventory, env = wu_lab(vmm_lab, hosts)
    extra = wu_vars(vmm_lab, PROD + TEST)

    planned = ansible(PLAYBOOK, extra, check=True, env=env, inventory=inventory).assert_ok()
    flat = " ".join(planned.output.split())
    assert "6 clustered hosts in 3 rounds" in flat and "Windows Update on each host" in flat, planned.tail()
    assert "hv-prod-01.lab.local: would install 1 updates" in flat and "(KB5048654)" in flat, planned.tail()
    assert not any(maintenance(vmm).values())
    after_plan = wu_state(state)
    assert not any(u.get("installed") for h in after_plan.values() for u in h["updates"])
    assert all(op["check_mode"] and op["operation"] == "search" for h in after_plan.values() for op in h["operations"])

    ansible(PLAYBOOK, extra, env=env, inventory=inventory).assert_ok()
    data = report(vmm_lab)
    assert {h["host"]: h["result"] for h in data["hosts"]} == {name: "patched" for name in PROD + TEST}
    assert {h["host"]: h["rebooted"] for h in data["hosts"]} == dict(
        [(name, True) for name in PROD] + [(name, False) for name in TEST])
    assert data["not_reached"] == [] and not any(maintenance(vmm).values())
    done = wu_state(state)
    for name in PROD:
        assert [u.get("installed", False) for u in done[name]["updates"]] == [True, True, False]
        assert done[name]["boots"] == 1 and not done[name]["reboot_pending"]
        # Searched, installed across the restart until a round finds nothing more, searched again to verify.
        assert [op["operation"] for op in done[name]["operations"] if not op["check_mode"]] == [
            "search", "installed", "reboot", "installed", "installed", "search"]
    for name in TEST:
        assert done[name]["updates"][0]["installed"] and done[name].get("boots", 0) == 0
    spans = windows(vmm_lab)
    for cluster in (PROD, TEST):
        for first, second in zip(cluster, cluster[1:], strict=False):
            assert spans[first][-1] < spans[second][0], (first, second, spans)
    assert spans[TEST[0]][0] < spans[PROD[0]][-1]
    steps = [(r["target"], r["step"]) for r in audit(vmm_lab)]
    assert (PROD[0], "restart") in steps and (TEST[0], "restart") not in steps
    assert sum(len(h["migrated"]) for h in data["hosts"]) > 0

    again = ansible(PLAYBOOK, extra, env=env, inventory=inventory).assert_ok()
    assert recap_changed(again.output) == 0, again.tail()
    assert {h["result"] for h in report(vmm_lab)["hosts"]} == {"ok"}
    assert [op["operation"] for op in wu_state(state)[PROD[0]]["operations"]][-1] == "search"


def test_win_updates_failed_update_stops_the_rollout_in_maintenance(vmm_lab, ansible):
    vmm = vmm_lab.server.vmm
    cumulative = dict(number=5048654, title="2026-11 Cumulative Update for Microsoft server operating system",
                      reboot_required=True)
    hosts = {name: {"updates": [wu_update(**cumulative)]} for name in PROD}
    hosts[PROD[1]]["updates"][0].update(fail_hresult="0x80240022", fail_phase="download")
    state, inventory, env = wu_lab(vmm_lab, hosts)

    result = ansible(PLAYBOOK, wu_vars(vmm_lab, PROD), env=env, inventory=inventory).assert_failed()
    flat = " ".join(result.output.split())
    assert "Windows Update failed on hv-prod-02.lab.local: KB5048654 (HRESULT 0x80240022)" in flat, result.tail()
    assert "stays in maintenance mode" in flat
    data = report(vmm_lab)
    assert {h["host"]: h["result"] for h in data["hosts"]} == {PROD[0]: "patched", PROD[1]: "failed",
                                                               PROD[2]: "not reached"}
    assert data["not_reached"] == [PROD[2]]
    state_now = maintenance(vmm)
    assert state_now[PROD[1]] is True and state_now[PROD[0]] is False and state_now[PROD[2]] is False
    after = wu_state(state)
    assert not after[PROD[1]]["updates"][0].get("installed") and "operations" not in after[PROD[2]]

    # Fixed on the host, the next run patches the failed host (still in maintenance) and carries on.
    hosts = wu_state(state)
    hosts[PROD[1]]["updates"][0].pop("fail_hresult")
    state.write_text(json.dumps({"hosts": hosts}))
    ansible(PLAYBOOK, wu_vars(vmm_lab, PROD), env=env, inventory=inventory).assert_ok()
    assert {h["host"]: h["result"] for h in report(vmm_lab)["hosts"]} == {PROD[0]: "ok", PROD[1]: "patched",
                                                                          PROD[2]: "patched"}
    assert not any(maintenance(vmm).values())
