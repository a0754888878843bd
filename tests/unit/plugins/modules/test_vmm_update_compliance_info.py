# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vmm_update_compliance_info against a fake runner (the catalogue's calls)."""

from __future__ import annotations

from ansible_collections.vmops.datacenter.plugins.modules import vmm_update_compliance_info
from ansible_collections.vmops.datacenter.tests.unit.plugins.modules import test_vmm_update_remediation as shared
from ansible_collections.vmops.datacenter.tests.unit.plugins.modules.test_vmm_update_remediation import (
    BASELINE,
    HV1,
    HV2,
    JOB2,
    KBS,
    compliance,
    job,
    listed,
)

# The fake runner and the module runner of the remediation tests.
runner = shared.runner
run_module = shared.run_module


def test_info_reads_compliance_per_update(runner, run_module):
    runner.expect("vmm.compliance_list", listed(HV1, HV2),
                  [compliance(HV1, 1), compliance(HV2, 2, ("Compliant",) * 3)])
    result = run_module(vmm_update_compliance_info, dict(hosts=[HV1, HV2], baseline=BASELINE,
                                                         query="hosts[?!compliant].host"))
    assert result["changed"] is False and result["scanned"] is False and result["count"] == 2
    assert result["compliant"] == [HV2] and result["noncompliant"] == [HV1] and result["query_result"] == [HV1]
    first = result["hosts"][0]
    assert [u["kb"] for u in first["updates"]] == list(KBS) and first["noncompliant"] == list(KBS)
    assert first["pending"] is None and first["communication_state"] == "Responding"
    assert result["server"]["vmm_server"] == "vmm01.lab.local"


def test_info_scans_first_but_not_in_check_mode(runner, run_module):
    runner.expect("vmm.compliance_scan", listed(HV1), [dict(host=HV1, host_id="h1", job_id=JOB2, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB2], TimeoutSeconds=1800.0, PollSeconds=5.0), [job(JOB2)])
    runner.expect("vmm.compliance_list", listed(HV1), [compliance(HV1, 1)])
    result = run_module(vmm_update_compliance_info, dict(hosts=[HV1], baseline=BASELINE, scan=True))
    assert result["scanned"] is True and result["scan_jobs"][0]["id"] == JOB2
    runner.expect("vmm.compliance_list", listed(HV1), [compliance(HV1, 1)])
    result = run_module(vmm_update_compliance_info, dict(hosts=[HV1], baseline=BASELINE, scan=True), check_mode=True)
    assert result["scanned"] is False


def test_info_fails_when_the_scan_fails(runner, run_module):
    runner.expect("vmm.compliance_scan", listed(HV1), [dict(host=HV1, host_id="h1", job_id=JOB2, error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[JOB2], TimeoutSeconds=1800.0, PollSeconds=5.0),
                  [job(JOB2, "Failed", dict(id=2916, message="VMM cannot contact the host."))])
    result = run_module(vmm_update_compliance_info, dict(hosts=[HV1], baseline=BASELINE, scan=True))
    assert result["failed"] and "VMM error 2916" in result["msg"] and result["vmm_error"]["target"] == HV1
