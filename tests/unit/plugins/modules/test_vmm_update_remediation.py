# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vmm_update_remediation against a fake runner (the catalogue's calls); the compliance fixtures serve
test_vmm_update_compliance_info.py too."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _vmm
from ansible_collections.vmops.datacenter.plugins.modules import vmm_update_remediation
from ansible_collections.vmops.datacenter.tests.unit.plugins.module_utils.test_vmm_client import FakeRunner

PASSWORD = "Psrp-unit-Pa55"
CONNECTION = dict(server="vmm01.test", username="LAB\\ansible", password=PASSWORD, auth="basic", ssl=False,
                  encryption="never")
CONNECTED = {"server": "vmm01.lab.local", "version": "10.22.0.0"}
BASELINE = "Hyper-V hosts 2026-11"
HV1 = "hv-prod-01.lab.local"
HV2 = "hv-prod-02.lab.local"
JOB1 = "00000000-0000-4000-a000-000000000001"
JOB2 = "00000000-0000-4000-a000-000000000002"
KBS = ("5068787", "5066131", "890830")
WAIT = dict(TimeoutSeconds=7200.0, PollSeconds=10.0)


def compliance(name, n, statuses=("NonCompliant",) * 3, assigned=True, pending="", communication="Responding"):
    """A vmm.compliance_list item for host `name` with the three lab updates in `statuses`."""
    updates = [dict(id="00000000-0000-4000-b000-%012d" % i, kb=("KB" + kb if i == 0 else kb), title="Update " + kb,
                    status=status) for i, (kb, status) in enumerate(zip(KBS, statuses, strict=True))] if assigned else []
    level = None
    if assigned:
        level = "Compliant" if all(s == "Compliant" for s in statuses) else (
            "Error" if "Error" in statuses else "NonCompliant")
    return dict(host=name, host_name=name, host_id="00000000-0000-4000-9000-%012d" % n, baseline=BASELINE,
                baseline_id="00000000-0000-4000-c000-000000000001", assigned=assigned, compliance=level,
                overall_compliance=level or "Unknown", pending=pending, communication_state=communication,
                updates=updates, error=None)


def job(job_id=JOB1, status="Completed", error=None, completed=True):
    return dict(id=job_id, name="Remediate updates", status=status, is_completed=completed, progress=100,
                result_name=HV1, start_time="2026-11-22T10:00:00.0000000Z",
                end_time="2026-11-22T10:05:30.5000000Z" if completed else None, error=error)


@pytest.fixture
def runner(monkeypatch):
    fake = FakeRunner()
    fake.connected = CONNECTED
    monkeypatch.setattr(_vmm, "runner_from_params", lambda params, product: fake)
    yield fake
    fake.assert_all_consumed()


@pytest.fixture
def run_module(capsys):
    def run(module, args, check_mode=False, diff=False):
        full = dict(CONNECTION)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        full["_ansible_diff"] = diff
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                module.main()
        out = capsys.readouterr().out
        assert PASSWORD not in out, "password leaked into module output"
        return json.loads(out)

    return run


def listed(*names):
    return dict(ComputerName=list(names), BaselineName=BASELINE)


# --- vmm_update_remediation -------------------------------------------------------------------------


def test_compliant_hosts_change_nothing(runner, run_module):
    runner.expect("vmm.compliance_list", listed(HV1), [compliance(HV1, 1, ("Compliant",) * 3)])
    result = run_module(vmm_update_remediation, dict(hosts=[HV1], baseline=BASELINE), diff=True)
    assert result["changed"] is False and result["changed_hosts"] == []
    assert result["hosts"][0]["action"] == "none" and result["hosts"][0]["job_id"] is None
    assert [call[0] for call in runner.made] == ["vmm.compliance_list"]


def test_check_mode_returns_the_plan_and_starts_nothing(runner, run_module):
    runner.expect("vmm.compliance_list", listed(HV1, HV2),
                  [compliance(HV1, 1), compliance(HV2, 2, ("Compliant", "NonCompliant", "Compliant"))])
    result = run_module(vmm_update_remediation, dict(hosts=[HV1, HV2], baseline=BASELINE, scan=True), check_mode=True,
                        diff=True)
    assert result["changed"] is True and result["changed_hosts"] == [HV1, HV2]
    assert [h["action"] for h in result["hosts"]] == ["remediate", "remediate"]
    assert result["hosts"][0]["before"]["noncompliant"] == list(KBS), "KB prefixes are dropped"
    assert result["diff"]["before"][HV2] == {"compliance": "NonCompliant", "noncompliant": ["5066131"]}
    assert result["diff"]["after"][HV2] == {"compliance": "Compliant", "noncompliant": []}
    assert [call[0] for call in runner.made] == ["vmm.compliance_list"], "no scan and no remediation in check mode"


def test_remediates_only_the_non_compliant_hosts_and_reports_before_and_after(runner, run_module):
    runner.expect("vmm.compliance_list", listed(HV1, HV2), [compliance(HV1, 1), compliance(HV2, 2, ("Compliant",) * 3)])
    runner.expect("vmm.update_remediate", listed(HV1), [dict(host=HV1, host_id="h1", job_id=JOB1, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB1], **WAIT), [job()])
    runner.expect("vmm.compliance_list", listed(HV1, HV2),
                  [compliance(HV1, 1, ("Compliant",) * 3), compliance(HV2, 2, ("Compliant",) * 3)])
    result = run_module(vmm_update_remediation, dict(hosts=[HV1, HV2], baseline=BASELINE))
    assert result["changed"] is True and result["changed_hosts"] == [HV1]
    first, second = result["hosts"]
    assert first["action"] == "remediated" and first["installed"] == list(KBS) and first["restarted"] is True
    assert first["job_id"] == JOB1 and first["seconds"] == 330.5 and first["after"]["compliant"] is True
    assert second["action"] == "none" and second["after"] is None


def test_scan_first_and_suspend_reboot(runner, run_module):
    runner.expect("vmm.compliance_scan", listed(HV1), [dict(host=HV1, host_id="h1", job_id=JOB2, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB2], TimeoutSeconds=60.0, PollSeconds=1.0), [job(JOB2)])
    runner.expect("vmm.compliance_list", listed(HV1), [compliance(HV1, 1)])
    runner.expect("vmm.update_remediate", dict(listed(HV1), SuspendReboot=True),
                  [dict(host=HV1, host_id="h1", job_id=JOB1, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB1], TimeoutSeconds=60.0, PollSeconds=1.0), [job()])
    runner.expect("vmm.compliance_list", listed(HV1), [compliance(HV1, 1, ("Compliant",) * 3, pending="Restart required")])
    result = run_module(vmm_update_remediation, dict(hosts=[HV1], baseline=BASELINE, scan=True, suspend_reboot=True,
                                                     wait_timeout=60, poll_interval=1))
    host = result["hosts"][0]
    assert host["restarted"] is False and host["after"]["pending"] == "Restart required"


def test_a_failed_update_fails_with_the_job_error_and_names_the_update(runner, run_module):
    message = "Update KB5068787 (Update 5068787) could not be installed on hv-prod-01.lab.local."
    runner.expect("vmm.compliance_list", listed(HV1), [compliance(HV1, 1)])
    runner.expect("vmm.update_remediate", listed(HV1), [dict(host=HV1, host_id="h1", job_id=JOB1, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB1], **WAIT),
                  [job(status="Failed", error=dict(id=24207, message=message, recommended_action="Check the log."))])
    runner.expect("vmm.compliance_list", listed(HV1), [compliance(HV1, 1, ("Error", "NonCompliant", "NonCompliant"))])
    result = run_module(vmm_update_remediation, dict(hosts=[HV1], baseline=BASELINE))
    assert result["failed"] is True
    assert "VMM error 24207" in result["msg"] and "Updates not installed: KB5068787." in result["msg"]
    assert result["vmm_error"]["error_id"] == 24207 and result["vmm_error"]["target"] == HV1
    host = result["hosts"][0]
    assert host["action"] == "failed" and host["failed_updates"] == ["5068787"] and host["restarted"] is False


def test_a_restart_that_does_not_complete_times_out_naming_the_host_state(runner, run_module):
    runner.expect("vmm.compliance_list", listed(HV1), [compliance(HV1, 1)])
    runner.expect("vmm.update_remediate", listed(HV1), [dict(host=HV1, host_id="h1", job_id=JOB1, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB1], TimeoutSeconds=5.0, PollSeconds=1.0),
                  [dict(job(status="Running", completed=False), progress=80)])
    runner.expect("vmm.compliance_list", listed(HV1),
                  [compliance(HV1, 1, pending="Restarting", communication="Not Responding")])
    result = run_module(vmm_update_remediation, dict(hosts=[HV1], baseline=BASELINE, wait_timeout=5, poll_interval=1))
    assert result["failed"] is True and "did not finish in time" in result["msg"] and JOB1 in result["msg"]
    assert "Not Responding (Restarting)" in result["msg"]


def test_no_wait_returns_the_jobs(runner, run_module):
    runner.expect("vmm.compliance_list", listed(HV1), [compliance(HV1, 1)])
    runner.expect("vmm.update_remediate", listed(HV1), [dict(host=HV1, host_id="h1", job_id=JOB1, error=None)])
    result = run_module(vmm_update_remediation, dict(hosts=[HV1], baseline=BASELINE, wait=False))
    assert result["changed"] is True and result["hosts"][0]["action"] == "started"
    assert result["hosts"][0]["job_id"] == JOB1 and result["hosts"][0]["after"] is None


def test_a_host_outside_the_baseline_scope_is_refused_before_anything_starts(runner, run_module):
    runner.expect("vmm.compliance_list", listed("hv-dmz-01"), [compliance("hv-dmz-01.lab.local", 9, assigned=False)])
    result = run_module(vmm_update_remediation, dict(hosts=["hv-dmz-01"], baseline=BASELINE))
    assert result["failed"] is True and "does not apply to hv-dmz-01.lab.local" in result["msg"]
    assert "Nothing was changed" in result["msg"]


def test_unknown_host_or_baseline_fails_with_801(runner, run_module):
    runner.expect("vmm.compliance_list", dict(ComputerName=["nope"], BaselineName="Other"),
                  [dict(compliance("nope", 0, assigned=False), host_id=None,
                        error=dict(id=801, message="VMM cannot find the baseline object."))])
    result = run_module(vmm_update_remediation, dict(hosts=["nope"], baseline="Other"))
    assert result["failed"] and "VMM error 801" in result["msg"] and "baseline" in result["msg"]
    assert result["vmm_error"]["error_id"] == 801


def test_job_seconds_reads_vmm_times():
    assert vmm_update_remediation.job_seconds(job()) == 330.5
    assert vmm_update_remediation.job_seconds(job(completed=False)) is None
    assert vmm_update_remediation.job_seconds(dict(start_time="garbage", end_time="2026-11-22T10:00:00Z")) is None
