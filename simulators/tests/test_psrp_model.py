"""The VMM and SCOM state models and the operation handlers (with the ConfigMgr site model for the
ConfigMgr operations), called directly (no server)."""

from __future__ import annotations

import json
import re
import time

import pytest

from plugins.module_utils import _configmgr_ops, _scom_ops, _vmm_ops
from simulators.configmgr import classes as cm_classes
from simulators.configmgr.model import SiteModel
from simulators.psrp import handlers as H
from simulators.psrp import scom_model, vmm_model
from simulators.psrp.vmm_model import DEFAULT_JOB_SECONDS, VmmModel

CATALOGUE = {**_vmm_ops.OPERATIONS, **_scom_ops.OPERATIONS, **_configmgr_ops.OPERATIONS}
T0 = 1_800_000_000.0
BASELINE = "Hyper-V hosts 2026-11"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def tick(self, seconds: float) -> None:
        self.t += seconds


def seconds(value: float) -> dict:
    return {k: value for k in DEFAULT_JOB_SECONDS}


class Lab:
    """Models, handlers and a connected session over one state directory."""

    def __init__(self, path, description=None, clock=None, job_seconds=1.0):
        self.clock = clock or Clock()
        self.description = description if description is not None else vmm_model.load_description()
        self.vmm = VmmModel(path, self.description, job_seconds=seconds(job_seconds), clock=self.clock)
        self.scom = scom_model.ScomModel(path, self.description, clock=self.clock)
        self.site = SiteModel(path.parent / (path.name + "-configmgr"))
        self.handlers = H.make_handlers(self.vmm, self.scom, self.site)
        self.ctx = H.DirectContext()
        self.call("vmm.connect")
        self.call("scom.connect")
        self.call("configmgr.connect")

    def call(self, op, **params):
        out = self.handlers[op](params, self.ctx)
        assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], str)
        return json.loads(out[0])

    def vm(self, name, n=0):
        return self.vmm.vms_named(name)[n]

    def finish(self, job_ids=None):
        """Move the clock past every running job."""
        self.clock.tick(3600)
        if job_ids:
            return [self.vmm.get_job(j) for j in job_ids]
        return None


@pytest.fixture
def lab(tmp_path):
    return Lab(tmp_path / "state")


def small_cluster(**node_overrides):
    """c1: n1 (64 GB) with four running VMs, n2 (16 GB), n3 (32 GB); sa1 stand-alone."""
    nodes = {"n1": {"memory_gb": 64}, "n2": {"memory_gb": 16}, "n3": {"memory_gb": 32}}
    for name, extra in node_overrides.items():
        nodes[name].update(extra)
    return {"vmm": {
        "server": "vmm01", "domain": "t.local",
        "clusters": {"c1": {"nodes": nodes}},
        "hosts": {"sa1": {"memory_gb": 32}},
        "vms": [
            {"name": "big", "host": "n1", "memory_gb": 24},
            {"name": "mid", "host": "n1", "memory_gb": 12},
            {"name": "small", "host": "n1", "memory_gb": 4},
            {"name": "nonha", "host": "n1", "memory_gb": 4, "ha": False},
            {"name": "off", "host": "n1", "memory_gb": 4, "status": "PowerOff"},
            {"name": "sa-vm", "host": "sa1", "memory_gb": 4},
            {"name": "sa-vm2", "host": "sa1", "memory_gb": 4, "status": "Saved"},
        ],
    }}


# -- lab description --------------------------------------------------------------------------

def test_default_lab_seeds_clusters_hosts_and_vms_with_non_unique_names(lab):
    hosts = {h["name"]: h for h in lab.call("vmm.host_list")}
    assert set(hosts) == {"hv-prod-01.lab.local", "hv-prod-02.lab.local", "hv-prod-03.lab.local",
                          "hv-test-01.lab.local", "hv-test-02.lab.local", "hv-test-03.lab.local", "hv-dev-01.lab.local",
                          "hv-dmz-01.lab.local"}
    assert hosts["hv-prod-01.lab.local"]["cluster"] == "hvc-prod.lab.local"
    assert hosts["hv-dev-01.lab.local"]["cluster"] is None
    assert hosts["hv-dmz-01.lab.local"]["available_for_placement"] is False
    assert hosts["hv-prod-01.lab.local"]["total_memory_mb"] == 256 * 1024
    # Host groups: a cluster's nodes share the cluster's, a stand-alone host without one sits in the root.
    assert hosts["hv-prod-02.lab.local"]["host_group"] == "All Hosts\\Datacenter A\\Production"
    assert hosts["hv-test-01.lab.local"]["host_group"] == "All Hosts\\Datacenter A\\Test"
    assert hosts["hv-dev-01.lab.local"]["host_group"] == "All Hosts\\Development"
    assert hosts["hv-dmz-01.lab.local"]["host_group"] == "All Hosts"
    assert hosts["hv-dev-01.lab.local"]["vm_count"] == 4 and hosts["hv-dev-01.lab.local"]["running_vm_count"] == 2
    legacy = lab.call("vmm.vm_list", Name=["DEV-LEGACY"])
    assert [v["name"] for v in legacy] == ["dev-legacy", "dev-legacy"]
    assert len({v["id"] for v in legacy}) == 2
    assert {v["computer_name"] for v in legacy} == {"dev-legacy-a.lab.local", "dev-legacy-b.lab.local"}
    sql = lab.call("vmm.vm_list", Name=["prod-sql01"])[0]
    assert sql["is_highly_available"] is True and sql["memory_mb"] == 32768
    assert sql["custom_properties"] == {"Custom1": "3", "Owner": "dba", "Tier": "gold"}
    assert lab.call("vmm.vm_list", Name=["prod-batch01"])[0]["is_highly_available"] is False


def test_same_description_gives_the_same_ids(tmp_path):
    a = Lab(tmp_path / "a").call("vmm.vm_list")
    b = Lab(tmp_path / "b").call("vmm.vm_list")
    assert [v["id"] for v in a] == [v["id"] for v in b]


def test_batch_generator_tags_vms_in_custom1(tmp_path):
    specs = vmm_model.generate_batch(20, 9, cluster="c1")
    assert len(specs) == 20 and all(s["custom"] == {"Custom1": "9"} for s in specs)
    assert sum(s["status"] == "PowerOff" for s in specs) == 4 and sum(not s["ha"] for s in specs) == 2
    lab = Lab(tmp_path / "bench", vmm_model.batch_lab(500, "42"))
    batch = lab.call("vmm.vm_list", CustomPropertyName="Custom1", CustomPropertyValue="42")
    assert len(batch) == 500
    assert sum(v["status"] == "Running" for v in batch) == 400
    assert {v["host"] for v in batch} == {f"hv-bench-{i:02d}.lab.local" for i in range(1, 5)}
    assert len(lab.call("vmm.vm_list", CustomPropertyName="custom1")) == 505
    # every VM guest and host is a SCOM object
    assert len(lab.call("scom.object_list")) == 505 + 5


def test_host_group_paths_are_under_the_root_and_old_states_default_to_it(tmp_path):
    assert vmm_model.host_group_path(None) == "All Hosts"
    assert vmm_model.host_group_path("Production/Cluster A") == "All Hosts\\Production\\Cluster A"
    assert vmm_model.host_group_path("all hosts\\Production") == "All Hosts\\Production"
    lab = Lab(tmp_path / "s", small_cluster())
    for host in lab.vmm.state["hosts"].values():
        del host["host_group"]  # a state saved before host groups were modelled
    assert {h["host_group"] for h in lab.call("vmm.host_list")} == {"All Hosts"}


def test_bad_descriptions_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown host"):
        VmmModel(tmp_path / "a", {"vmm": {"vms": [{"name": "x", "host": "nowhere"}]}})
    with pytest.raises(ValueError, match="cluster nodes"):
        VmmModel(tmp_path / "b", {"vmm": {"hosts": {"h": {}}, "vms": [{"name": "x", "host": "h", "ha": True}]}})
    with pytest.raises(ValueError, match="status"):
        VmmModel(tmp_path / "c", {"vmm": {"hosts": {"h": {}}, "vms": [{"name": "x", "host": "h", "status": "On"}]}})


# -- vm_list filters ------------------------------------------------------------------------------

def test_vm_list_filters_combine(lab):
    ids = [v["id"] for v in lab.call("vmm.vm_list", Name=["prod-web01", "prod-web02"])]
    assert len(ids) == 2
    assert [v["id"] for v in lab.call("vmm.vm_list", VMId=list(reversed(ids)) + [vmm_model.NAMESPACE.hex])] == ids[::-1]
    on_host = lab.call("vmm.vm_list", HostName=["hv-prod-01"])  # computer name matches too
    assert {v["name"] for v in on_host} >= {"prod-sql01", "prod-web01"}
    assert all(v["host"] == "hv-prod-01.lab.local" for v in on_host)
    test = lab.call("vmm.vm_list", ClusterName=["HVC-TEST.lab.local"], Status=["saved"])
    assert [v["name"] for v in test] == ["test-app02"]
    owners = lab.call("vmm.vm_list", CustomPropertyName="owner", CustomPropertyValue="WEB")
    assert sorted(v["name"] for v in owners) == ["prod-web01", "prod-web02"]
    assert lab.call("vmm.vm_list", CustomPropertyName="Custom2")[0]["name"] == "dmz-proxy01"
    assert lab.call("vmm.vm_list", Name=["nope"]) == []


# -- jobs over time ----------------------------------------------------------------------------

def test_a_job_runs_for_its_time_then_changes_the_state(tmp_path):
    lab = Lab(tmp_path / "s", job_seconds=10)
    vm = lab.vm("prod-app01")
    [item] = lab.call("vmm.vm_power", VMId=[vm["id"]], Action="Start")
    assert item["vm_id"] == vm["id"] and item["error"] is None
    job = lab.call("vmm.job_list", JobId=[item["job_id"]])[0]
    assert job["status"] == "Running" and job["is_completed"] is False and job["progress"] == 0
    assert job["name"] == "Start virtual machine" and job["result_name"] == "prod-app01" and job["end_time"] is None
    lab.clock.tick(4)
    assert lab.call("vmm.job_list", JobId=[item["job_id"]])[0]["progress"] == 40
    assert lab.vm("prod-app01")["status"] == "PowerOff"  # nothing changes before the job ends
    assert [j["id"] for j in lab.call("vmm.job_list")] == [item["job_id"]]  # the running ones
    lab.clock.tick(6)
    job = lab.call("vmm.job_list", JobId=[item["job_id"]])[0]
    assert job["status"] == "Completed" and job["progress"] == 100 and job["error"] is None
    assert job["start_time"].endswith("Z") and re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$", job["end_time"])
    assert lab.vm("prod-app01")["status"] == "Running"
    assert lab.call("vmm.job_list") == []
    assert lab.call("vmm.job_list", Newest=1)[0]["id"] == item["job_id"]


def test_unknown_jobs_and_vms_are_reported_per_item(lab):
    missing = "00000000-0000-0000-0000-000000000001"
    [job] = lab.call("vmm.job_list", JobId=[missing])
    assert job["status"] == "NotFound" and job["is_completed"] is True
    assert job["error"] == {"id": 801, "message": _vmm_ops.JOB_NOT_FOUND, "recommended_action": None}
    good = lab.vm("prod-web01")["id"]
    items = lab.call("vmm.vm_power", VMId=[missing, good], Action="stop")
    assert items[0] == {"vm_id": missing, "job_id": None, "error": {"id": 801, "message": _vmm_ops.VM_NOT_FOUND}}
    assert items[1]["job_id"] and items[1]["error"] is None


def test_job_wait_polls_in_real_time(tmp_path):
    lab = Lab(tmp_path / "s", clock=time.time, job_seconds=0.15)
    ids = [v["id"] for v in lab.call("vmm.vm_list", CustomPropertyName="Custom1", CustomPropertyValue="7")]
    jobs = lab.call("vmm.vm_power", VMId=ids, Action="shutdown")
    started = time.monotonic()
    done = lab.call("vmm.job_wait", JobId=[j["job_id"] for j in jobs], TimeoutSeconds=10, PollSeconds=0.05)
    assert 0.1 < time.monotonic() - started < 5
    assert [j["status"] for j in done] == ["Completed"] * len(ids) and lab.ctx.sleep_calls >= 2
    assert {v["status"] for v in lab.call("vmm.vm_list", VMId=ids)} == {"PowerOff"}
    # a timeout answers with what is still running
    lab.vmm.set_job_seconds("start", 30)
    [slow] = lab.call("vmm.vm_power", VMId=ids[:1], Action="start")
    [waited] = lab.call("vmm.job_wait", JobId=[slow["job_id"]], TimeoutSeconds=0.1, PollSeconds=0.05)
    assert waited["status"] == "Running" and waited["is_completed"] is False


def test_power_transitions_and_invalid_states(lab):
    by = {n: lab.vm(n)["id"] for n in ("prod-web01", "test-app02", "dev-app02", "prod-app01")}
    jobs = {}
    jobs["start running"] = lab.call("vmm.vm_power", VMId=[by["prod-web01"]], Action="start")[0]["job_id"]
    jobs["stop saved"] = lab.call("vmm.vm_power", VMId=[by["test-app02"]], Action="stop")[0]["job_id"]
    jobs["resume paused"] = lab.call("vmm.vm_power", VMId=[by["dev-app02"]], Action="resume")[0]["job_id"]
    jobs["save off"] = lab.call("vmm.vm_power", VMId=[by["prod-app01"]], Action="save")[0]["job_id"]
    lab.finish()
    status = {k: lab.vmm.get_job(j) for k, j in jobs.items()}
    assert status["start running"]["status"] == "Completed"  # already running: nothing to do
    assert status["resume paused"]["status"] == "Completed" and lab.vm("dev-app02")["status"] == "Running"
    for key in ("stop saved", "save off"):
        assert status[key]["status"] == "Failed" and status[key]["error"]["id"] == 1730
    assert "Saved state" in status["stop saved"]["error"]["message"]
    assert status["save off"]["error"]["recommended_action"]
    assert lab.vm("test-app02")["status"] == "Saved"


def test_a_guest_that_ignores_shutdown_is_released_by_a_forced_stop(lab):
    vid = lab.vm("dev-legacy")["id"]
    shutdown = lab.call("vmm.vm_power", VMId=[vid], Action="shutdown")[0]["job_id"]
    lab.clock.tick(3600)
    assert lab.vmm.get_job(shutdown)["status"] == "Running" and lab.vm("dev-legacy")["status"] == "Running"
    force = lab.call("vmm.vm_power", VMId=[vid], Action="stop")[0]["job_id"]
    lab.clock.tick(1)
    assert lab.vmm.get_job(force)["status"] == "Completed"
    assert lab.vmm.get_job(shutdown)["status"] == "Completed" and lab.vm("dev-legacy")["status"] == "PowerOff"


# -- failure injection ---------------------------------------------------------------------------

def test_injected_failures_carry_vmm_error_ids(lab):
    web = [lab.vm("prod-web01")["id"], lab.vm("prod-web02")["id"]]
    lab.vmm.inject_fault("stop", 1600)
    first = [j["job_id"] for j in lab.call("vmm.vm_power", VMId=web, Action="stop")]
    lab.finish()
    jobs = [lab.vmm.get_job(j) for j in first]
    assert [j["status"] for j in jobs] == ["Failed", "Completed"]  # count=1: only the next job
    assert jobs[0]["error"]["id"] == 1600 and "transient" in jobs[0]["error"]["message"]
    assert lab.vm("prod-web01")["status"] == "Running" and lab.vm("prod-web02")["status"] == "PowerOff"
    # retried, it works
    retry = lab.call("vmm.vm_power", VMId=web[:1], Action="stop")[0]["job_id"]
    assert lab.finish([retry])[0]["status"] == "Completed"


def test_faults_can_target_one_vm_and_make_jobs_slow(lab):
    ids = [lab.vm(n)["id"] for n in ("prod-web01", "prod-web02")]
    lab.vmm.inject_fault("checkpoint_new", 801, target="PROD-WEB02", message="VM vanished")
    lab.vmm.inject_fault("checkpoint_new", seconds=100, target=ids[0])
    jobs = [j["job_id"] for j in lab.call("vmm.checkpoint_new", VMId=ids, Name="cp")]
    lab.clock.tick(50)
    assert lab.vmm.get_job(jobs[0])["progress"] == 50
    failed = lab.vmm.get_job(jobs[1])
    assert failed["status"] == "Failed" and failed["error"]["id"] == 801 and failed["error"]["message"] == "VM vanished"
    lab.clock.tick(51)
    assert lab.vmm.get_job(jobs[0])["status"] == "Completed"
    with pytest.raises(ValueError):
        lab.vmm.inject_fault("reboot", 1600)


# -- update compliance and remediation --------------------------------------------------------------

def statuses(lab, host):
    [item] = lab.call("vmm.compliance_list", ComputerName=[host], BaselineName=BASELINE)
    return item, {u["kb"]: u["status"] for u in item["updates"]}


def test_the_lab_baseline_applies_to_the_clusters_and_hv_dev_01(lab):
    items = lab.call("vmm.compliance_list", ComputerName=["hv-prod-01.lab.local", "hv-dev-01", "hv-dmz-01", "nope"],
                     BaselineName=BASELINE)
    prod, dev, dmz, nope = items
    assert prod["assigned"] and prod["compliance"] == "NonCompliant" and prod["host_name"] == "hv-prod-01.lab.local"
    assert [u["kb"] for u in prod["updates"]] == ["5068787", "5066131", "890830"]
    assert {u["status"] for u in prod["updates"]} == {"NonCompliant"} and prod["pending"] == ""
    assert prod["communication_state"] == "Responding" and dev["assigned"]
    assert dmz["assigned"] is False and dmz["compliance"] is None and dmz["updates"] == [] and dmz["error"] is None
    assert nope["error"] == {"id": 801, "message": _vmm_ops.HOST_NOT_FOUND}
    [other] = lab.call("vmm.compliance_list", ComputerName=["hv-prod-01"], BaselineName="No such baseline")
    assert other["error"] == {"id": 801, "message": _vmm_ops.BASELINE_NOT_FOUND}
    [job] = lab.call("vmm.update_remediate", ComputerName=["hv-prod-01"], BaselineName="No such baseline")
    assert job["job_id"] is None and job["error"]["message"] == _vmm_ops.BASELINE_NOT_FOUND


def test_remediation_installs_then_restarts_the_host_then_reports_compliance(tmp_path):
    lab = Lab(tmp_path / "s", job_seconds=10)  # 10 s per update, 10 s restart
    [item] = lab.call("vmm.update_remediate", ComputerName=["hv-prod-02"], BaselineName=BASELINE)
    job = lab.vmm.get_job(item["job_id"])
    assert job["name"] == "Remediate updates" and job["result_name"] == "hv-prod-02.lab.local"
    lab.clock.tick(15)
    state, updates = statuses(lab, "hv-prod-02")
    assert state["pending"] == "Installing updates" and state["communication_state"] == "Responding"
    assert set(updates.values()) == {"NonCompliant"}  # VMM records the outcome at the end of the job
    lab.clock.tick(20)  # three updates installed, the host restarts
    state, _ = statuses(lab, "hv-prod-02")
    assert state["pending"] == "Restarting" and state["communication_state"] == "Not Responding"
    lab.vmm.inject_fault("compliance_scan", seconds=1)
    [scan] = lab.call("vmm.compliance_scan", ComputerName=["hv-prod-02"], BaselineName=BASELINE)
    lab.clock.tick(1)
    failed = lab.vmm.get_job(scan["job_id"])
    assert failed["status"] == "Failed" and failed["error"]["id"] == vmm_model.ERROR_NOT_RESPONDING
    assert lab.vmm.get_job(item["job_id"])["status"] == "Running"
    lab.clock.tick(4)
    assert lab.vmm.get_job(item["job_id"])["status"] == "Completed"
    state, updates = statuses(lab, "hv-prod-02")
    assert state["compliance"] == "Compliant" and state["overall_compliance"] == "Compliant" and state["pending"] == ""
    assert set(updates.values()) == {"Compliant"} and state["communication_state"] == "Responding"
    assert lab.vmm.job_record(item["job_id"])["result"] == {"installed": ["5068787", "5066131", "890830"],
                                                            "failed": None, "restarted": True}
    # Again: nothing is missing, so nothing is installed and there is no restart.
    [again] = lab.call("vmm.update_remediate", ComputerName=["hv-prod-02"], BaselineName=BASELINE)
    lab.finish()
    assert lab.vmm.job_record(again["job_id"])["result"] == {"installed": [], "failed": None, "restarted": False}


def test_a_failing_update_fails_the_job_naming_it_and_a_later_run_installs_it(lab):
    lab.vmm.set_update_faults("hv-test-01.lab.local", fail_update="KB5066131")
    [item] = lab.call("vmm.update_remediate", ComputerName=["hv-test-01"], BaselineName=BASELINE)
    [job] = lab.finish([item["job_id"]])
    assert job["status"] == "Failed" and job["error"]["id"] == vmm_model.ERROR_UPDATE_FAILED
    assert "KB5066131" in job["error"]["message"] and ".NET Framework" in job["error"]["message"]
    state, updates = statuses(lab, "hv-test-01")
    assert updates == {"5068787": "Compliant", "5066131": "Error", "890830": "NonCompliant"}
    assert state["compliance"] == "Error"
    lab.vmm.set_update_faults("hv-test-01", fail_update=None)
    [item] = lab.call("vmm.update_remediate", ComputerName=["hv-test-01"], BaselineName=BASELINE)
    assert lab.finish([item["job_id"]])[0]["status"] == "Completed"
    assert statuses(lab, "hv-test-01")[0]["compliance"] == "Compliant"


def test_a_restart_that_never_completes_keeps_the_job_running_until_the_fault_is_cleared(lab):
    lab.vmm.set_update_faults("hv-test-02", stuck_restart=True)
    [item] = lab.call("vmm.update_remediate", ComputerName=["hv-test-02"], BaselineName=BASELINE)
    [job] = lab.finish([item["job_id"]])
    assert job["status"] == "Running" and job["is_completed"] is False
    state, updates = statuses(lab, "hv-test-02")
    assert state["communication_state"] == "Not Responding" and set(updates.values()) == {"NonCompliant"}
    lab.vmm.set_update_faults("hv-test-02", stuck_restart=False)
    assert lab.vmm.get_job(item["job_id"])["status"] == "Completed"
    assert statuses(lab, "hv-test-02")[0]["compliance"] == "Compliant"


def test_suspended_reboot_leaves_a_restart_pending_and_scans_record_what_is_installed(lab):
    [item] = lab.call("vmm.update_remediate", ComputerName=["hv-dev-01"], BaselineName=BASELINE, SuspendReboot=True)
    assert lab.vmm.job_record(item["job_id"])["args"]["restart"] is False
    lab.finish()
    state, _ = statuses(lab, "hv-dev-01")
    assert state["compliance"] == "Compliant" and state["pending"] == "Restart required"
    assert lab.vmm.job_record(item["job_id"])["result"]["restarted"] is False
    # A scan re-reads what is installed: an Error becomes NonCompliant again.
    lab.vmm.set_update_faults("hv-prod-03", fail_update="890830")
    lab.call("vmm.update_remediate", ComputerName=["hv-prod-03"], BaselineName=BASELINE)
    lab.finish()
    assert statuses(lab, "hv-prod-03")[1]["890830"] == "Error"
    [scan] = lab.call("vmm.compliance_scan", ComputerName=["hv-prod-03"], BaselineName=BASELINE)
    assert lab.finish([scan["job_id"]])[0]["status"] == "Completed"
    assert statuses(lab, "hv-prod-03")[1] == {"5068787": "Compliant", "5066131": "Compliant", "890830": "NonCompliant"}


def test_remediation_outside_the_baseline_scope_fails(lab):
    [item] = lab.call("vmm.update_remediate", ComputerName=["hv-dmz-01"], BaselineName=BASELINE)
    [job] = lab.finish([item["job_id"]])
    assert job["status"] == "Failed" and job["error"]["id"] == 1730 and "not assigned" in job["error"]["message"]
    with pytest.raises(ValueError):
        lab.vmm.set_update_faults("hv-nowhere", stuck_restart=True)


def test_update_compliance_survives_a_restart_of_the_simulator(tmp_path):
    lab = Lab(tmp_path / "s")
    lab.vmm.set_update_faults("hv-prod-01", fail_update="5068787")
    lab.call("vmm.update_remediate", ComputerName=["hv-prod-01"], BaselineName=BASELINE)
    lab.finish()
    again = Lab(tmp_path / "s", clock=lab.clock)
    assert statuses(again, "hv-prod-01")[1]["5068787"] == "Error"
    assert again.vmm.state["update_faults"]


# -- maintenance mode ----------------------------------------------------------------------------

def test_disable_with_move_migrates_ha_vms_and_saves_the_others(tmp_path):
    lab = Lab(tmp_path / "s", small_cluster(n3={"in_maintenance": True}))
    [item] = lab.call("vmm.host_maintenance", ComputerName=["n1"], Action="disable", MoveWithinCluster=True)
    assert item["host"] == "n1" and item["error"] is None and item["host_id"]
    lab.clock.tick(0.5)
    assert lab.call("vmm.host_list", ComputerName=["n1"])[0]["in_maintenance"] is False  # not before the job ends
    [job] = lab.finish([item["job_id"]])
    assert job["status"] == "Completed"
    vms = {v["name"]: v for v in lab.call("vmm.vm_list")}
    # n2 has 16 GB - 2 GB reserve: big (24 GB) fits nowhere and is saved, mid (12 GB) moves,
    # then small (4 GB) no longer fits; n3 is in maintenance and never a target.
    assert (vms["big"]["status"], vms["big"]["host"]) == ("Saved", "n1.t.local")
    assert (vms["mid"]["status"], vms["mid"]["host"]) == ("Running", "n2.t.local")
    assert (vms["small"]["status"], vms["small"]["host"]) == ("Saved", "n1.t.local")
    assert (vms["nonha"]["status"], vms["nonha"]["host"]) == ("Saved", "n1.t.local")
    assert vms["off"]["status"] == "PowerOff"
    record = lab.vmm.job_record(item["job_id"])["result"]
    assert [m["to"] for m in record["migrated"]] == ["n2.t.local"] and len(record["saved"]) == 3
    n1 = lab.call("vmm.host_list", ComputerName=["n1.t.local"])[0]
    assert n1["in_maintenance"] is True and n1["overall_state"] == "MaintenanceMode" and n1["running_vm_count"] == 0
    assert lab.call("vmm.host_list", ComputerName=["n2"])[0]["available_memory_mb"] == 16 * 1024 - 2048 - 12 * 1024


def test_disable_with_move_spreads_over_the_nodes_with_most_room(tmp_path):
    lab = Lab(tmp_path / "s", small_cluster(n2={"memory_gb": 64}, n3={"memory_gb": 64}))
    [item] = lab.call("vmm.host_maintenance", ComputerName=["n1.t.local"], Action="disable", MoveWithinCluster=True)
    lab.finish()
    vms = {v["name"]: v for v in lab.call("vmm.vm_list")}
    assert {vms[n]["status"] for n in ("big", "mid", "small")} == {"Running"}
    assert vms["big"]["host"] == "n2.t.local" and vms["mid"]["host"] == "n3.t.local"  # most free memory first
    assert vms["nonha"]["status"] == "Saved"


def test_disable_without_move_or_on_a_stand_alone_host_saves_running_vms(tmp_path):
    lab = Lab(tmp_path / "s", small_cluster(n2={"memory_gb": 128}))
    lab.call("vmm.host_maintenance", ComputerName=["n1"], Action="disable")
    lab.call("vmm.host_maintenance", ComputerName=["sa1"], Action="disable", MoveWithinCluster=True)
    lab.finish()
    vms = {v["name"]: v for v in lab.call("vmm.vm_list")}
    for name in ("big", "mid", "small", "nonha", "sa-vm"):
        assert vms[name]["status"] == "Saved" and vms[name]["host"] in ("n1.t.local", "sa1.t.local"), name
    assert vms["sa-vm2"]["status"] == "Saved" and vms["off"]["status"] == "PowerOff"


def test_nothing_is_started_on_a_host_in_maintenance_until_it_is_enabled(tmp_path):
    lab = Lab(tmp_path / "s", small_cluster())
    lab.call("vmm.host_maintenance", ComputerName=["sa1"], Action="disable")
    lab.finish()
    sa = [lab.vm("sa-vm")["id"], lab.vm("sa-vm2")["id"]]
    jobs = [j["job_id"] for j in lab.call("vmm.vm_power", VMId=sa, Action="start")]
    for job in lab.finish(jobs):
        assert job["status"] == "Failed" and job["error"]["id"] == 1730
        assert "cannot be deployed or migrated to host sa1.t.local because the host is in maintenance mode" \
            in job["error"]["message"]
    [enable] = lab.call("vmm.host_maintenance", ComputerName=["sa1"], Action="enable")
    lab.finish()
    host = lab.call("vmm.host_list", ComputerName=["sa1"])[0]
    assert host["in_maintenance"] is False and host["overall_state"] == "OK"
    assert lab.vm("sa-vm")["status"] == "Saved"  # enabling the host resumes nothing
    jobs = [j["job_id"] for j in lab.call("vmm.vm_power", VMId=sa, Action="start")]
    assert [j["status"] for j in lab.finish(jobs)] == ["Completed", "Completed"]


def test_hosts_not_available_for_placement_receive_no_migrations(tmp_path):
    lab = Lab(tmp_path / "s", small_cluster(n2={"available_for_placement": False}, n3={"memory_gb": 128}))
    lab.call("vmm.host_maintenance", ComputerName=["n1"], Action="disable", MoveWithinCluster=True)
    lab.finish()
    assert {v["host"] for v in lab.call("vmm.vm_list", Status=["Running"], ClusterName=["c1.t.local"])} == {"n3.t.local"}


def test_unknown_host_is_reported_per_item(lab):
    [item] = lab.call("vmm.host_maintenance", ComputerName=["hv-nope"], Action="disable")
    assert item == {"host": "hv-nope", "host_id": None, "job_id": None,
                    "error": {"id": 801, "message": _vmm_ops.HOST_NOT_FOUND}}


# -- live migration ------------------------------------------------------------------------------

def test_migration_is_a_job_that_moves_the_vm_when_it_ends(tmp_path):
    lab = Lab(tmp_path / "s", small_cluster(), job_seconds=10)
    mid = lab.vm("mid")["id"]
    [item] = lab.call("vmm.vm_migrate", VMId=[mid], HostName="n3")
    assert item["vm_id"] == mid and item["from"] == "n1.t.local" and item["error"] is None
    lab.clock.tick(5)
    job = lab.vmm.get_job(item["job_id"])
    assert job["status"] == "Running" and job["progress"] == 50 and job["name"] == "Migrate virtual machine"
    assert lab.call("vmm.vm_list", VMId=[mid])[0]["host"] == "n1.t.local"  # not before the job ends
    lab.clock.tick(5)
    assert lab.vmm.get_job(item["job_id"])["status"] == "Completed"
    moved = lab.call("vmm.vm_list", VMId=[mid])[0]
    assert (moved["host"], moved["status"]) == ("n3.t.local", "Running")
    assert lab.vmm.job_record(item["job_id"])["result"] == {"from": "n1.t.local", "to": "n3.t.local"}
    # A powered-off HA VM moves too (the cluster moves its role); no memory is needed for it.
    [off] = lab.call("vmm.vm_migrate", VMId=[lab.vm("off")["id"]], HostName="n2.t.local")
    [job] = lab.finish([off["job_id"]])
    assert job["status"] == "Completed" and lab.call("vmm.vm_list", Name=["off"])[0]["host"] == "n2.t.local"


def test_migration_refusals_carry_vmm_error_ids(tmp_path):
    lab = Lab(tmp_path / "s", small_cluster(n3={"in_maintenance": True}))
    big, mid, small, nonha = (lab.vm(n)["id"] for n in ("big", "mid", "small", "nonha"))
    items = lab.call("vmm.vm_migrate", VMId=[big, mid, small, nonha, "00000000-0000-4000-8000-000000000099"],
                     HostName="n2")
    errors = [item["error"] for item in items]
    # n2: 16 GB - 2 GB reserve. big (24 GB) does not fit, mid (12 GB) starts, then small (4 GB) no longer fits
    # because mid's migration holds its memory.
    assert errors[0]["id"] == 1730 and "does not have enough memory: 24576 MB needed, 14336 MB available" \
        in errors[0]["message"] and errors[0]["message"].endswith("(Error ID: 1730)")
    assert errors[1] is None and items[1]["job_id"]
    assert errors[2]["id"] == 1730 and "4096 MB needed, 2048 MB available" in errors[2]["message"]
    assert errors[3]["id"] == 1730 and "nonha is not highly available" in errors[3]["message"]
    assert errors[4] == {"id": 801, "message": _vmm_ops.VM_NOT_FOUND} and items[4]["from"] is None
    assert [item["job_id"] for item in items].count(None) == 4
    [maint] = lab.call("vmm.vm_migrate", VMId=[small], HostName="n3.t.local")
    assert maint["job_id"] is None and maint["error"]["id"] == 1730
    assert "cannot be deployed or migrated to host n3.t.local because the host is in maintenance mode" \
        in maint["error"]["message"]
    [other] = lab.call("vmm.vm_migrate", VMId=[small], HostName="sa1")
    assert other["error"]["id"] == 1730 and "not a node of cluster c1.t.local" in other["error"]["message"]
    unknown = lab.call("vmm.vm_migrate", VMId=[small, big], HostName="hv-nope")
    assert [i["error"] for i in unknown] == [{"id": 801, "message": _vmm_ops.HOST_NOT_FOUND}] * 2
    assert [i["vm_id"] for i in unknown] == [small, big]
    lab.finish()
    assert {v["name"]: v["host"] for v in lab.call("vmm.vm_list", ClusterName=["c1.t.local"])}["small"] == "n1.t.local"


def test_a_migration_fails_when_its_destination_enters_maintenance_before_it_ends(tmp_path):
    lab = Lab(tmp_path / "s", small_cluster(n3={"memory_gb": 128}), job_seconds=10)
    lab.vmm.set_job_seconds("host_disable", 1)
    [item] = lab.call("vmm.vm_migrate", VMId=[lab.vm("small")["id"]], HostName="n2")
    lab.call("vmm.host_maintenance", ComputerName=["n2"], Action="disable", MoveWithinCluster=True)
    lab.clock.tick(5)  # the drain ends first
    assert lab.call("vmm.host_list", ComputerName=["n2"])[0]["in_maintenance"] is True
    [job] = lab.finish([item["job_id"]])
    assert job["status"] == "Failed" and job["error"]["id"] == 1730
    assert "because the host is in maintenance mode" in job["error"]["message"]
    assert lab.call("vmm.vm_list", Name=["small"])[0]["host"] == "n1.t.local"


def test_migration_faults_are_injected_per_vm(tmp_path):
    lab = Lab(tmp_path / "s", small_cluster())
    lab.vmm.inject_fault("vm_migrate", 1600, target="small")
    ids = [lab.vm("small")["id"], lab.vm("mid")["id"]]
    items = lab.call("vmm.vm_migrate", VMId=ids, HostName="n3")
    jobs = lab.finish([i["job_id"] for i in items])
    assert [j["status"] for j in jobs] == ["Failed", "Completed"] and jobs[0]["error"]["id"] == 1600
    assert {v["name"]: v["host"] for v in lab.call("vmm.vm_list", VMId=ids)} == {"small": "n1.t.local",
                                                                                 "mid": "n3.t.local"}


# -- checkpoints -----------------------------------------------------------------------------------

def test_checkpoints_with_duplicate_names_a_parent_chain_and_restore_keeping_later_ones(lab):
    vid = lab.vm("prod-web01")["id"]
    names = ["nightly", "nightly", "before-upgrade"]
    for n, name in enumerate(names):
        [item] = lab.call("vmm.checkpoint_new", VMId=[vid], Name=name, Description=f"#{n}")
        lab.finish([item["job_id"]])
    [listing] = lab.call("vmm.checkpoint_list", VMId=[vid])
    assert listing["vm_name"] == "prod-web01" and listing["error"] is None
    cps = listing["checkpoints"]
    assert [c["name"] for c in cps] == names and len({c["id"] for c in cps}) == 3
    assert [c["parent_id"] for c in cps] == [None, cps[0]["id"], cps[1]["id"]]
    assert cps[1]["description"] == "#1" and cps[0]["added_time"] < cps[2]["added_time"]

    [restore] = lab.call("vmm.checkpoint_restore", CheckpointId=[cps[0]["id"]])
    assert restore["vm_id"] == vid and restore["checkpoint_id"] == cps[0]["id"]
    lab.finish()
    vm = lab.call("vmm.vm_list", VMId=[vid])[0]
    assert vm["last_restored_checkpoint_id"] == cps[0]["id"]
    assert vm["status"] == "Saved"  # taken while running: the memory state comes back
    after = lab.call("vmm.checkpoint_list", VMId=[vid])[0]["checkpoints"]
    assert [c["id"] for c in after] == [c["id"] for c in cps]  # later checkpoints remain

    lab.call("vmm.checkpoint_new", VMId=[vid], Name="after-restore")
    lab.finish()
    newest = lab.call("vmm.checkpoint_list", VMId=[vid])[0]["checkpoints"][-1]
    assert newest["name"] == "after-restore" and newest["parent_id"] == cps[0]["id"]  # a branch

    [remove] = lab.call("vmm.checkpoint_remove", CheckpointId=[cps[1]["id"]])
    lab.finish([remove["job_id"]])
    left = {c["id"]: c for c in lab.call("vmm.checkpoint_list", VMId=[vid])[0]["checkpoints"]}
    assert cps[1]["id"] not in left and left[cps[2]["id"]]["parent_id"] == cps[0]["id"]  # merged into its parent


def test_checkpoint_errors(lab):
    missing = "00000000-0000-0000-0000-0000000000aa"
    assert lab.call("vmm.checkpoint_restore", CheckpointId=[missing]) == [
        {"checkpoint_id": missing, "vm_id": None, "job_id": None,
         "error": {"id": 801, "message": _vmm_ops.CHECKPOINT_NOT_FOUND}}]
    assert lab.call("vmm.checkpoint_list", VMId=[missing]) == [
        {"vm_id": missing, "vm_name": None, "checkpoints": [], "error": {"id": 801, "message": _vmm_ops.VM_NOT_FOUND}}]
    seeded = lab.call("vmm.checkpoint_list", VMId=[lab.vm("prod-sql01")["id"]])[0]["checkpoints"]
    assert [c["name"] for c in seeded] == ["baseline", "pre-patch"] and seeded[1]["parent_id"] == seeded[0]["id"]
    # removed twice: the second job finds nothing
    jobs = [i["job_id"] for i in lab.call("vmm.checkpoint_remove", CheckpointId=[seeded[1]["id"]] * 2)]
    first, second = lab.finish(jobs)
    assert first["status"] == "Completed" and second["status"] == "Failed" and second["error"]["id"] == 801


# -- SCOM ----------------------------------------------------------------------------------------

def test_scom_objects_are_scoped_to_a_class(lab):
    computers = lab.call("scom.object_list", DisplayName=["HV-PROD-01.lab.local"])
    services = lab.call("scom.object_list", DisplayName=["hv-prod-01.lab.local"],
                        ClassName="Microsoft.SystemCenter.HealthService")
    assert len(computers) == 1 and len(services) == 1 and computers[0]["id"] != services[0]["id"]
    assert computers[0] == {"id": computers[0]["id"], "display_name": "hv-prod-01.lab.local", "in_maintenance": False,
                            "maintenance": None, "error": None}
    assert lab.call("scom.object_list", Id=[computers[0]["id"]]) == computers


def test_scom_maintenance_start_update_stop_and_history(lab):
    objs = lab.call("scom.object_list", DisplayName=["prod-web01.lab.local", "prod-web02.lab.local"])
    ids = [o["id"] for o in objs]
    missing = "00000000-0000-0000-0000-0000000000bb"
    end = vmm_model.iso(T0 + 3600)
    items = lab.call("scom.maintenance_start", Id=ids + [missing], EndTime=end, Reason="plannedapplicationmaintenance",
                     Comment="checkpoint batch 3")
    assert [i["in_maintenance"] for i in items] == [True, True, False]
    window = items[0]["maintenance"]
    assert window == {"start_time": vmm_model.iso(T0), "end_time": end, "reason": "PlannedApplicationMaintenance",
                      "comment": "checkpoint batch 3", "user": "LAB\\tester"}
    assert items[2]["error"] == {"id": None, "message": _scom_ops.OBJECT_NOT_FOUND}
    again = lab.call("scom.maintenance_start", Id=ids[:1], EndTime=end)
    assert again[0]["error"] == {"id": None, "message": _scom_ops.ALREADY_IN_MAINTENANCE}

    later = "2027-01-15T10:00:00+01:00"
    [updated] = lab.call("scom.maintenance_update", Id=ids[:1], EndTime=later)
    assert updated["maintenance"]["end_time"] == "2027-01-15T09:00:00.0000000Z"
    assert updated["maintenance"]["reason"] == "PlannedApplicationMaintenance"  # kept unless given
    assert updated["maintenance"]["comment"] == "checkpoint batch 3"
    [updated] = lab.call("scom.maintenance_update", Id=ids[:1], EndTime=later, Comment="", Reason="SecurityIssue")
    assert (updated["maintenance"]["comment"], updated["maintenance"]["reason"]) == ("", "SecurityIssue")

    lab.clock.tick(60)
    stopped = lab.call("scom.maintenance_stop", Id=ids)
    assert [s["in_maintenance"] for s in stopped] == [False, False] and stopped[0]["error"] is None
    assert lab.call("scom.maintenance_stop", Id=ids)[0]["error"] is None  # nothing to stop: no error
    [not_in] = lab.call("scom.maintenance_update", Id=ids[:1], EndTime=later)
    assert not_in["error"] == {"id": None, "message": _scom_ops.NOT_IN_MAINTENANCE}
    [history] = lab.scom.history(ids[0])
    assert history["ended"] == "stopped" and history["end_time"] == T0 + 60 and history["reason"] == "SecurityIssue"


def test_scom_maintenance_expires_at_its_end_time(lab):
    [obj] = lab.call("scom.object_list", DisplayName=["dev-app01.lab.local"])
    lab.call("scom.maintenance_start", Id=[obj["id"]], EndTime=vmm_model.iso(T0 + 300))
    lab.clock.tick(299)
    assert lab.call("scom.object_list", Id=[obj["id"]])[0]["in_maintenance"] is True
    lab.clock.tick(1)
    assert lab.call("scom.object_list", Id=[obj["id"]])[0]["in_maintenance"] is False
    [history] = lab.scom.history(obj["id"])
    assert history["ended"] == "expired" and history["end_time"] == T0 + 300


def test_scom_end_time_must_be_a_future_iso_time(lab):
    [obj] = lab.call("scom.object_list", DisplayName=["dev-app01.lab.local"])
    with pytest.raises(H.PowerShellError) as past:
        lab.call("scom.maintenance_start", Id=[obj["id"]], EndTime=vmm_model.iso(T0))
    assert past.value.message == _scom_ops.END_TIME_NOT_FUTURE and past.value.category == "OperationStopped"
    with pytest.raises(H.PowerShellError) as bad:
        lab.call("scom.maintenance_start", Id=[obj["id"]], EndTime="next tuesday")
    assert bad.value.error_id == "FormatException"
    assert lab.call("scom.object_list", Id=[obj["id"]])[0]["in_maintenance"] is False


# -- persistence ---------------------------------------------------------------------------------

def test_state_survives_a_restart_with_jobs_still_running(tmp_path):
    clock = Clock()
    lab = Lab(tmp_path / "s", clock=clock, job_seconds=10)
    vid = lab.vm("prod-web01")["id"]
    [stop] = lab.call("vmm.vm_power", VMId=[vid], Action="stop")
    [cp] = lab.call("vmm.checkpoint_new", VMId=[lab.vm("dev-app01")["id"]], Name="kept")
    lab.finish([cp["job_id"]])
    [stop2] = lab.call("vmm.vm_power", VMId=[lab.vm("prod-web02")["id"]], Action="stop")
    lab.vmm.inject_fault("start", 1730, count=2)
    [obj] = lab.call("scom.object_list", DisplayName=["prod-web01.lab.local"])
    lab.call("scom.maintenance_start", Id=[obj["id"]], EndTime=vmm_model.iso(clock() + 7200), Comment="kept")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["scom.json", "vmm.json"]  # no temp files left

    again = VmmModel(tmp_path / "s", clock=clock)
    assert again.get_vm(vid)["status"] == "PowerOff"
    assert again.get_job(stop2["job_id"])["status"] == "Running"
    clock.tick(10)
    assert again.get_job(stop2["job_id"])["status"] == "Completed"
    assert again.get_job(stop["job_id"])["status"] == "Completed"
    assert [c["name"] for c in again.list_checkpoints(lab.vm("dev-app01")["id"])] == ["kept"]
    assert again.state["faults"][0]["count"] == 2
    scom = scom_model.ScomModel(tmp_path / "s", clock=clock)
    assert scom.list_objects(ids=[obj["id"]])[0]["maintenance"]["comment"] == "kept"
    on_disk = json.loads((tmp_path / "s" / "vmm.json").read_text())
    assert on_disk["version"] == vmm_model.STATE_VERSION and vid in on_disk["vms"]


def test_models_are_thread_safe(tmp_path):
    import threading

    lab = Lab(tmp_path / "s", vmm_model.batch_lab(60, "1"), clock=time.time, job_seconds=0.01)
    ids = [v["id"] for v in lab.vmm.list_vms(custom_name="Custom1", custom_value="1")]
    errors = []

    def worker(chunk):
        try:
            for _ in range(5):
                lab.vmm.vm_action(chunk, "suspend")
                lab.vmm.list_vms()
                lab.vmm.vm_action(chunk, "resume")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(ids[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    time.sleep(0.05)
    assert lab.vmm.list_jobs() == [] and len(lab.vmm.list_jobs(newest=10000)) == 600


# -- strict parameter binding -------------------------------------------------------------------------

@pytest.mark.parametrize("params, error_id, fragment", [
    ({"VMId": [], "Action": "start"}, "ParameterArgumentValidationErrorEmptyArrayNotAllowed", "empty array"),
    ({"VMId": None, "Action": "start"}, "ParameterArgumentValidationErrorNullNotAllowed", "because it is null"),
    ({"Action": "start"}, "MissingMandatoryParameter", "missing mandatory parameters: VMId."),
    ({}, "MissingMandatoryParameter", "missing mandatory parameters: VMId Action."),
    ({"VMId": ["x"], "Action": "start"}, "ParameterArgumentTransformationError", "System.Guid[]"),
    ({"VMId": [vmm_model.NAMESPACE.hex], "Action": "reboot"}, "ParameterArgumentValidationError",
     'does not belong to the set "start,stop,shutdown,save,suspend,resume"'),
    ({"VMId": [vmm_model.NAMESPACE.hex], "Action": "start", "Force": True}, "NamedParameterNotFound",
     "matches parameter name 'Force'"),
    ({"VMId": [vmm_model.NAMESPACE.hex], "Action": "start", "vmid": []}, "ParameterAlreadyBound", "more than once"),
])
def test_binding_errors_look_like_powershell(lab, params, error_id, fragment):
    with pytest.raises(H.PowerShellError) as err:
        lab.handlers["vmm.vm_power"](params, lab.ctx)
    assert err.value.error_id == error_id and fragment in err.value.message
    assert err.value.exception_type.startswith("System.Management.Automation.ParameterBinding")


def test_binding_accepts_case_prefixes_and_converts_types(lab):
    vid = lab.vm("prod-web01")["id"]
    [item] = json.loads(lab.handlers["vmm.vm_power"]({"vmid": "{" + vid.upper() + "}", "ACT": "STOP"}, lab.ctx)[0])
    assert item["vm_id"] == vid and item["job_id"]
    with pytest.raises(H.PowerShellError) as err:
        lab.handlers["vmm.vm_list"]({"C": "x"}, lab.ctx)  # ClusterName, CustomPropertyName, CustomPropertyValue
    assert err.value.error_id == "AmbiguousParameter"
    bound = H.bind(H.SPECS["vmm.job_wait"], {"JobId": vid, "TimeoutSeconds": "30", "poll": 1})
    assert bound == {"JobId": [vid], "TimeoutSeconds": 30.0, "PollSeconds": 1.0}
    assert bound.given == {"JobId", "TimeoutSeconds", "PollSeconds"}
    bound = H.bind(H.SPECS["vmm.job_list"], {"Newest": "2.5"})
    assert bound["Newest"] == 2 and bound["JobId"] is None
    with pytest.raises(H.PowerShellError) as err:
        H.bind(H.SPECS["vmm.job_list"], {"Newest": "many"})
    assert "Input string was not in a correct format" in err.value.message
    assert H.bind(H.SPECS["vmm.vm_list"], {"Name": "one"})["Name"] == ["one"]
    assert H.bind(H.SPECS["vmm.host_maintenance"], {"ComputerName": "h", "Action": "Enable"})["MoveWithinCluster"] is False
    assert H.bind(H.SPECS["scom.maintenance_update"], {"Id": vid, "EndTime": "x"}).given == {"Id", "EndTime"}


def test_operations_refuse_to_run_before_connect(lab):
    fresh = H.DirectContext()
    with pytest.raises(H.PowerShellError) as err:
        lab.handlers["vmm.vm_list"]({}, fresh)
    assert err.value.message == _vmm_ops.NOT_CONNECTED and err.value.error_id == _vmm_ops.NOT_CONNECTED
    with pytest.raises(H.PowerShellError) as err:
        lab.handlers["scom.object_list"]({}, fresh)
    assert err.value.message == _scom_ops.NOT_CONNECTED
    with pytest.raises(H.PowerShellError) as err:
        lab.handlers["vmm.connect"]({"Server": "elsewhere.example"}, fresh)
    assert err.value.category == "ConnectionError"
    connected = json.loads(lab.handlers["vmm.connect"]({"Server": "VMM01", "UserName": "LAB\\op", "Password": "x"}, fresh)[0])
    assert connected == {"server": "vmm01.lab.local", "version": H.VMM_VERSION}
    assert json.loads(lab.handlers["scom.connect"]({}, fresh)[0]) == {"server": "localhost", "management_group": "LAB-MG"}
    assert lab.handlers["vmm.vm_list"]({"Name": "nope"}, fresh) == ["[]"]


# -- catalogue <-> handlers --------------------------------------------------------------------------

_PARAM = re.compile(r"^\s*(?P<mandatory>\[Parameter\(Mandatory = \$true\)\])?"
                    r"(?:\[ValidateSet\((?P<choices>[^)]*)\)\])?"
                    r"\[(?P<type>[a-z]+(?:\[\])?)\] \$(?P<name>\w+)(?: = (?P<default>[^,]+))?,?$")


def script_params(text: str) -> dict:
    """The param block of a catalogue script (one parameter per line): name -> P."""
    block = text.split("param(\n", 1)[1].split("\n)\n", 1)[0]
    out = {}
    for line in block.splitlines():
        m = _PARAM.match(line)
        assert m, f"unparsed parameter line {line!r}"
        default = m.group("default")
        if default is not None:
            default = default[1:-1].replace("''", "'") if default.startswith("'") else float(default)
        choices = tuple(c.strip().strip("'") for c in m.group("choices").split(",")) if m.group("choices") else ()
        out[m.group("name")] = (m.group("type"), bool(m.group("mandatory")), default, choices)
    return out


def test_every_catalogue_operation_has_a_handler_and_no_more():
    handlers = H.make_handlers(object(), object())
    assert set(handlers) == set(CATALOGUE) == set(H.SPECS)
    assert all(h.op == op for op, h in handlers.items())


@pytest.mark.parametrize("op", sorted(CATALOGUE))
def test_handler_parameters_match_the_script_param_block(op):
    declared = script_params(CATALOGUE[op])
    spec = H.make_handlers(object(), object())[op].parameters
    assert list(spec) == list(declared)
    for name, (ps_type, mandatory, default, choices) in declared.items():
        p = spec[name]
        assert (p.type, p.mandatory, p.choices) == (ps_type, mandatory, choices), name
        if default is not None:
            assert p.default == default, name
        elif not mandatory:
            assert p.default is None, name  # unbound: PowerShell's own empty value for the type


@pytest.mark.parametrize("op", sorted(CATALOGUE))
def test_the_servers_param_block_reader_agrees(op):
    script = pytest.importorskip("simulators.psrp.script")
    declared = script.declared_params(CATALOGUE[op])
    spec = H.SPECS[op]
    assert [(d.name, d.mandatory, d.switch) for d in declared] == [
        (n, p.mandatory, p.type == H.SWITCH) for n, p in spec.items()]


def test_register_all_with_the_dispatcher(lab):
    dispatch = pytest.importorskip("simulators.psrp.dispatch")
    dispatcher = dispatch.Dispatcher()
    names = H.register_all(dispatcher, lab.vmm, lab.scom)
    assert names == dispatcher.names() == sorted(CATALOGUE)


# The keys of every answer, as the scripts' [pscustomobject] literals write them.
CONTRACT = {
    "vmm.connect": ["server", "version"],
    "vmm.vm_list": ["id", "name", "computer_name", "status", "host", "cluster", "is_highly_available", "memory_mb",
                    "custom_properties", "last_restored_checkpoint_id"],
    "vmm.vm_power": ["vm_id", "job_id", "error"],
    "vmm.checkpoint_list": ["vm_id", "vm_name", "checkpoints", "error"],
    "vmm.checkpoint_new": ["vm_id", "job_id", "error"],
    "vmm.checkpoint_remove": ["checkpoint_id", "vm_id", "job_id", "error"],
    "vmm.checkpoint_restore": ["checkpoint_id", "vm_id", "job_id", "error"],
    "vmm.host_list": ["id", "name", "computer_name", "cluster", "host_group", "overall_state", "in_maintenance",
                      "available_for_placement", "total_memory_mb", "available_memory_mb", "running_vm_count",
                      "vm_count"],
    "vmm.host_maintenance": ["host", "host_id", "job_id", "error"],
    "vmm.vm_migrate": ["vm_id", "from", "job_id", "error"],
    "vmm.compliance_list": ["host", "host_name", "host_id", "baseline", "baseline_id", "assigned", "compliance",
                            "overall_compliance", "pending", "communication_state", "updates", "error"],
    "vmm.compliance_scan": ["host", "host_id", "job_id", "error"],
    "vmm.update_remediate": ["host", "host_id", "job_id", "error"],
    "vmm.job_list": ["id", "name", "status", "is_completed", "progress", "result_name", "start_time", "end_time", "error"],
    "vmm.job_wait": ["id", "name", "status", "is_completed", "progress", "result_name", "start_time", "end_time", "error"],
    "scom.connect": ["server", "management_group"],
    "scom.object_list": ["id", "display_name", "in_maintenance", "maintenance", "error"],
    "scom.maintenance_start": ["id", "display_name", "in_maintenance", "maintenance", "error"],
    "scom.maintenance_update": ["id", "display_name", "in_maintenance", "maintenance", "error"],
    "scom.maintenance_stop": ["id", "display_name", "in_maintenance", "maintenance", "error"],
    "configmgr.connect": ["site_code", "provider"],
    "configmgr.update_deployment_new": ["assignment_id", "assignment_unique_id", "name"],
    "configmgr.update_deployment_remove": ["deployment_id", "removed"],
}


def test_every_answer_has_the_scripts_keys(lab):
    assert set(CONTRACT) == set(CATALOGUE)
    vid = lab.vm("prod-sql01")["id"]
    cp = lab.call("vmm.checkpoint_list", VMId=[vid])[0]["checkpoints"][0]["id"]
    [obj] = lab.call("scom.object_list", DisplayName=["prod-sql01.lab.local"])
    end = vmm_model.iso(T0 + 600)
    answers = {
        "vmm.connect": lab.call("vmm.connect"),
        "vmm.vm_list": lab.call("vmm.vm_list", VMId=[vid]),
        "vmm.vm_power": lab.call("vmm.vm_power", VMId=[vid], Action="save"),
        "vmm.checkpoint_list": lab.call("vmm.checkpoint_list", VMId=[vid]),
        "vmm.checkpoint_new": lab.call("vmm.checkpoint_new", VMId=[vid], Name="x"),
        "vmm.checkpoint_remove": lab.call("vmm.checkpoint_remove", CheckpointId=[cp]),
        "vmm.checkpoint_restore": lab.call("vmm.checkpoint_restore", CheckpointId=[cp]),
        "vmm.host_list": lab.call("vmm.host_list"),
        "vmm.host_maintenance": lab.call("vmm.host_maintenance", ComputerName=["hv-test-01"], Action="enable"),
        "vmm.vm_migrate": lab.call("vmm.vm_migrate", VMId=[lab.vm("prod-web01")["id"]], HostName="hv-prod-03"),
        "vmm.compliance_list": lab.call("vmm.compliance_list", ComputerName=["hv-test-01", "nope"],
                                        BaselineName=BASELINE),
        "vmm.compliance_scan": lab.call("vmm.compliance_scan", ComputerName=["hv-test-01"], BaselineName=BASELINE),
        "vmm.update_remediate": lab.call("vmm.update_remediate", ComputerName=["hv-test-02"], BaselineName=BASELINE),
        "vmm.job_list": lab.call("vmm.job_list", Newest=3),
        "vmm.job_wait": lab.call("vmm.job_wait", JobId=[vid], TimeoutSeconds=0),
        "scom.connect": lab.call("scom.connect"),
        "scom.object_list": [obj],
        "scom.maintenance_start": lab.call("scom.maintenance_start", Id=[obj["id"]], EndTime=end),
        "scom.maintenance_update": lab.call("scom.maintenance_update", Id=[obj["id"]], EndTime=end),
        "scom.maintenance_stop": lab.call("scom.maintenance_stop", Id=[obj["id"]]),
        "configmgr.connect": lab.call("configmgr.connect", SiteCode="LAB"),
        "configmgr.update_deployment_new": lab.call(
            "configmgr.update_deployment_new", SoftwareUpdateGroupId="16790001", CollectionId="LAB00010",
            DeploymentName="x", AvailableTime=end, DeadlineTime=end),
        "configmgr.update_deployment_remove": lab.call("configmgr.update_deployment_remove", DeploymentId=["{nope}"]),
    }
    for op, answer in answers.items():
        items = answer if isinstance(answer, list) else [answer]
        assert items, op
        for item in items:
            assert list(item) == CONTRACT[op], op
        for key in CONTRACT[op]:
            assert re.search(rf"\b{key} = ", CATALOGUE[op]), f"{op}: the script writes no {key}"
    assert list(answers["vmm.checkpoint_list"][0]["checkpoints"][0]) == ["id", "name", "description", "parent_id",
                                                                         "added_time"]
    assert list(answers["vmm.compliance_list"][0]["updates"][0]) == ["id", "kb", "title", "status"]
    assert list(answers["scom.maintenance_start"][0]["maintenance"]) == ["start_time", "end_time", "reason", "comment",
                                                                          "user"]


def test_the_contract_survives_the_wire(tmp_path):
    """The catalogue's scripts and these handlers through the WS-Man/PSRP server and pypsrp."""
    powershell = pytest.importorskip("pypsrp.powershell")
    wsman = pytest.importorskip("pypsrp.wsman")
    psrp = pytest.importorskip("simulators.psrp")
    lab = Lab(tmp_path / "s", clock=time.time, job_seconds=0.05)
    dispatcher = psrp.Dispatcher()
    H.register_all(dispatcher, lab.vmm, lab.scom)
    with psrp.PsrpServer(dispatcher=dispatcher) as server, \
            powershell.RunspacePool(wsman.WSMan(**server.endpoint)) as pool:
        def run(op, **params):
            ps = powershell.PowerShell(pool)
            ps.add_script(CATALOGUE[op])
            if params:
                ps.add_parameters(params)
            out = ps.invoke()
            return ps, (json.loads(out[0]) if out else None)

        _, connected = run("vmm.connect")
        assert connected["server"] == "vmm01.lab.local"
        _, vms = run("vmm.vm_list", CustomPropertyName="Custom1", CustomPropertyValue="7")
        assert len(vms) == 12
        _, jobs = run("vmm.vm_power", VMId=[v["id"] for v in vms[:3]], Action="save")
        _, done = run("vmm.job_wait", JobId=[j["job_id"] for j in jobs], TimeoutSeconds=10.0, PollSeconds=0.02)
        assert [j["status"] for j in done] == ["Completed"] * 3
        _, [item] = run("vmm.host_maintenance", ComputerName=["hv-prod-03"], Action="disable", MoveWithinCluster=True)
        assert item["error"] is None and lab.vmm.job_record(item["job_id"])["args"] == {"move_within_cluster": True}
        ps, answer = run("scom.object_list")
        assert answer is None and ps.had_errors and _scom_ops.NOT_CONNECTED in str(ps.streams.error[0])
        run("scom.connect")
        _, [obj] = run("scom.object_list", DisplayName=[vms[0]["computer_name"]])
        end = vmm_model.iso(time.time() + 3600)
        _, [started] = run("scom.maintenance_start", Id=[obj["id"]], EndTime=end, Comment="wire")
        assert started["maintenance"]["end_time"] == end and started["maintenance"]["comment"] == "wire"
        ps, answer = run("vmm.vm_power", VMId=["not-a-guid"], Action="start")
        assert answer is None and ps.had_errors and "System.Guid" in str(ps.streams.error[0])


# -- ConfigMgr operations against the ConfigMgr site model --------------------------------------------------

def deployments_as_served(site):
    return {d["AssignmentName"]: d for d in cm_classes.WMI_CLASSES["sms_updategroupassignment"].rows(site)}


def test_configmgr_deployment_created_and_removed_shows_in_the_adminservice_classes(lab):
    start, deadline = vmm_model.iso(T0), vmm_model.iso(T0 + 7200)
    made = lab.call("configmgr.update_deployment_new", SoftwareUpdateGroupId="16790001", CollectionId="lab00010",
                    DeploymentName="Hosts 2026-11", AvailableTime=start, DeadlineTime=deadline,
                    UserNotification="displaysoftwarecenteronly", SuppressRestartServer=True, AllowRestart=True)
    assert made["assignment_id"] == 16777301 and made["name"] == "Hosts 2026-11"
    row = deployments_as_served(lab.site)["Hosts 2026-11"]
    assert row["AssignmentUniqueID"] == made["assignment_unique_id"]
    assert (row["TargetCollectionID"], row["AssignedUpdateGroup"]) == ("LAB00010", 16790001)
    assert [scom_model.parse_time(row[k]) for k in ("StartTime", "EnforcementDeadline")] == [T0, T0 + 7200]
    assert (row["NotifyUser"], row["UserUIExperience"], row["SuppressReboot"]) == (False, True, 2)
    assert (row["RebootOutsideOfServiceWindows"], row["OverrideServiceWindows"]) == (True, False)
    assert row["AssignedCIs"] == lab.site.state["update_groups"]["16790001"]["Updates"]
    gone = lab.call("configmgr.update_deployment_remove", DeploymentId=[made["assignment_unique_id"], "{x}"])
    assert gone == [{"deployment_id": made["assignment_unique_id"], "removed": True}, {"deployment_id": "{x}", "removed": False}]
    assert "Hosts 2026-11" not in deployments_as_served(lab.site)
    assert SiteModel(lab.site.state_dir).state["deployments"].keys() == lab.site.state["deployments"].keys()  # on disk


def test_configmgr_operations_refuse_like_the_cmdlets(lab):
    base = dict(DeploymentName="x", AvailableTime=vmm_model.iso(T0), DeadlineTime=vmm_model.iso(T0))
    for group, coll in (("99", "LAB00010"), ("16790001", "LAB0FFFF")):
        with pytest.raises(H.PowerShellError) as err:
            lab.call("configmgr.update_deployment_new", SoftwareUpdateGroupId=group, CollectionId=coll, **base)
        assert err.value.message == H.CM_NOT_FOUND and err.value.category == "ObjectNotFound"
    with pytest.raises(H.PowerShellError) as err:
        lab.call("configmgr.update_deployment_new", SoftwareUpdateGroupId="16790001", CollectionId="LAB00010",
                 UserNotification="Loud", **base)
    assert err.value.error_id == "ParameterArgumentValidationError"
    fresh = H.DirectContext()
    with pytest.raises(H.PowerShellError) as err:
        lab.handlers["configmgr.update_deployment_remove"]({"DeploymentId": ["{x}"]}, fresh)
    assert err.value.message == _configmgr_ops.NOT_CONNECTED
    with pytest.raises(H.PowerShellError) as err:
        lab.handlers["configmgr.connect"]({"SiteCode": "P01", "ProviderMachineName": "cm01"}, fresh)
    assert err.value.category == "InvalidArgument" and "'P01'" in err.value.message
    assert json.loads(lab.handlers["configmgr.connect"]({}, fresh)[0]) == {"site_code": "LAB", "provider": "cm01.lab.local"}
    no_console = H.make_handlers(lab.vmm, lab.scom)
    with pytest.raises(H.PowerShellError) as err:
        no_console["configmgr.connect"]({}, H.DirectContext())
    assert err.value.message == _configmgr_ops.CONSOLE_MISSING
