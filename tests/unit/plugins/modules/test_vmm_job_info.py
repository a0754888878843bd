# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _vmm
from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import PsrpError
from ansible_collections.vmops.datacenter.plugins.modules import vmm_job_info
from ansible_collections.vmops.datacenter.tests.unit.plugins.module_utils.test_vmm_client import FakeRunner

PASSWORD = "Psrp-unit-Pa55"
VMM_PASSWORD = "Vmm-unit-Pa55"
CONNECTION = dict(server="vmm01.test", username="LAB\\ansible", password=PASSWORD, auth="basic", ssl=False,
                  encryption="never")
CONNECTED = {"server": "vmm01.lab.local", "version": "10.22.0.0"}


def job(n, status="Running", error=None):
    return dict(id="00000000-0000-4000-a000-%012d" % n, name="Shut down virtual machine", status=status,
                is_completed=status != "Running", progress=100 if status != "Running" else 40, result_name="vm%d" % n,
                start_time="2026-11-22T07:00:00Z", end_time=None if status == "Running" else "2026-11-22T07:01:00Z",
                error=error)


@pytest.fixture
def runner(monkeypatch):
    fake = FakeRunner()
    fake.connected = CONNECTED
    made = []

    def factory(params, product):
        made.append((params, product))
        return fake

    monkeypatch.setattr(_vmm, "runner_from_params", factory)
    fake.factory_calls = made
    yield fake
    fake.assert_all_consumed()


@pytest.fixture
def run_module(capsys):
    def run(args, check_mode=False):
        full = dict(CONNECTION)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                vmm_job_info.main()
        out = capsys.readouterr().out
        assert PASSWORD not in out and VMM_PASSWORD not in out, "password leaked into module output"
        return json.loads(out)

    return run


def test_running_jobs_without_filter(runner, run_module):
    runner.expect("vmm.job_list", {}, [job(1)])
    result = run_module({}, check_mode=True)
    assert result["changed"] is False and result["count"] == 1 and result["jobs"][0]["status"] == "Running"
    assert runner.closed


def test_by_id_keeps_not_found_entries(runner, run_module):
    missing = dict(job(2, status="NotFound"), error=dict(id=801, message="VMM cannot find the job object."))
    runner.expect("vmm.job_list", dict(JobId=[job(1)["id"], missing["id"]]), [job(1, "Completed"), missing])
    result = run_module(dict(id=[job(1)["id"], missing["id"]]))
    assert [j["status"] for j in result["jobs"]] == ["Completed", "NotFound"]
    assert result["jobs"][1]["error"]["id"] == 801


def test_newest_and_query(runner, run_module):
    failed = job(3, "Failed", error=dict(id=1730, message="invalid state", recommended_action="retry"))
    runner.expect("vmm.job_list", dict(Newest=5), [job(1, "Completed"), failed])
    result = run_module(dict(newest=5, query="jobs[?status=='Failed'].error.id"))
    assert result["query_result"] == [1730]


def test_newest_must_be_positive(runner, run_module):
    result = run_module(dict(newest=0))
    assert result["failed"] and "newest must be greater than zero" in result["msg"]
    assert runner.factory_calls == []


def test_id_and_newest_exclude_each_other(runner, run_module):
    result = run_module(dict(id=["x"], newest=3))
    assert result["failed"] and "mutually exclusive" in result["msg"]


def test_powershell_error_is_reported(runner, run_module):
    runner.expect("vmm.job_list", {}, PsrpError(
        "vmm01.test: vmm.job_list: PowerShell error X (ConnectionError): boom", server="vmm01.test",
        operation="vmm.job_list", error_id="X", category="ConnectionError", ps_message="boom"))
    result = run_module({})
    assert result["failed"] and result["psrp_error"]["operation"] == "vmm.job_list"
