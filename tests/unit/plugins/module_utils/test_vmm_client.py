# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VmmClient against a strict fake runner: every (operation, parameters) is expected, nothing else may run."""

from __future__ import annotations

import json

import pytest

from ansible_collections.vmops.datacenter.plugins.module_utils._progress import (
    PROGRESS_FILE_ENV,
    PROGRESS_INTERVAL_ENV,
    Progress,
)
from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import CATALOGUE, PsrpError
from ansible_collections.vmops.datacenter.plugins.module_utils._vmm import (
    VmmClient,
    VmmJobError,
    jobs_status,
    outcome_error,
    raise_for_errors,
)


class FakeRunner:
    """Expected (op, params) -> answer, consumed in order; an unexpected call fails the test."""

    def __init__(self):
        self.expected = []
        self.made = []
        self.warnings = []
        self.closed = False

    def expect(self, op, params, answer):
        assert op in CATALOGUE, op
        self.expected.append((op, params, answer))
        return self

    def run(self, op, **params):
        self.made.append((op, params))
        if not self.expected:
            pytest.fail("unexpected call %s %r" % (op, params))
        want_op, want_params, answer = self.expected.pop(0)
        if (want_op, want_params) != (op, params):
            pytest.fail("expected %s %r, got %s %r" % (want_op, want_params, op, params))
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self):
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def assert_all_consumed(self):
        assert not self.expected, "expected calls never made: %r" % (self.expected,)


@pytest.fixture
def runner():
    fake = FakeRunner()
    yield fake
    fake.assert_all_consumed()


def vm_id(n):
    return "00000000-0000-4000-8000-%012d" % n


def job_id(n):
    return "10000000-0000-4000-8000-%012d" % n


def job(n, status="Completed", completed=True, error=None, progress=100):
    return dict(id=job_id(n), name="job %d" % n, status=status, is_completed=completed, progress=progress,
                result_name=None, start_time=None, end_time=None, error=error)


NOT_FOUND = dict(id=801, message="VMM cannot find the virtual machine object.")


def test_find_vms_sends_only_the_filters_given_as_lists(runner):
    runner.expect("vmm.vm_list", {}, [])
    runner.expect("vmm.vm_list", dict(Name=["web01"], HostName=["hv1", "hv2"], Status=["Running"],
                                      CustomPropertyName="Custom1", CustomPropertyValue="7"), [{"id": vm_id(1)}])
    runner.expect("vmm.vm_list", dict(VMId=[vm_id(1)], ClusterName=["c1"]), [])
    client = VmmClient(runner)
    assert client.find_vms() == []
    assert client.find_vms(names="web01", hosts=["hv1", "hv2"], statuses=["Running"], custom_property="Custom1",
                           custom_value="7") == [{"id": vm_id(1)}]
    assert client.find_vms(ids=[vm_id(1)], clusters="c1", names=[]) == []


def test_power_starts_all_jobs_in_one_pipeline_and_awaits_them_in_another(runner):
    runner.expect("vmm.vm_power", dict(VMId=[vm_id(1), vm_id(2), vm_id(3)], Action="shutdown"), [
        dict(vm_id=vm_id(1), job_id=job_id(1), error=None),
        dict(vm_id=vm_id(2), job_id=job_id(2), error=None),
        dict(vm_id=vm_id(3), job_id=None, error=NOT_FOUND),
    ])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1), job_id(2)], TimeoutSeconds=90.0, PollSeconds=0.5),
                  [job(1), job(2, status="Failed", error=dict(id=1730, message="The VM is in a state not valid"))])
    items = VmmClient(runner).power([vm_id(1), vm_id(2), vm_id(3)], "shutdown", wait_timeout=90, poll_interval=0.5)
    assert [i["job"]["status"] if i["job"] else None for i in items] == ["Completed", "Failed", None]
    assert [outcome_error(i) and outcome_error(i)["id"] for i in items] == [None, 1730, 801]
    with pytest.raises(VmmJobError) as caught:
        raise_for_errors(items, "vm_id")
    err = caught.value
    assert err.error_id == 1730 and err.invalid_state and not err.not_found
    assert err.target == vm_id(2) and "(and 1 more failed)" in str(err)
    assert "VMM error 1730" in str(err)


def test_power_without_wait_returns_the_started_jobs(runner):
    runner.expect("vmm.vm_power", dict(VMId=[vm_id(1)], Action="start"),
                  [dict(vm_id=vm_id(1), job_id=job_id(1), error=None)])
    [item] = VmmClient(runner).power([vm_id(1)], "start", wait=False, wait_timeout=60, poll_interval=1)
    assert item["job"] is None and outcome_error(item) is None


def test_nothing_to_await_makes_no_wait_call(runner):
    runner.expect("vmm.vm_power", dict(VMId=[vm_id(9)], Action="stop"),
                  [dict(vm_id=vm_id(9), job_id=None, error=NOT_FOUND)])
    [item] = VmmClient(runner).power([vm_id(9)], "stop", wait_timeout=5, poll_interval=1)
    with pytest.raises(VmmJobError) as caught:
        raise_for_errors([item], "vm_id")
    assert caught.value.not_found and caught.value.text == NOT_FOUND["message"]


def test_a_job_still_running_at_the_timeout_is_an_error_that_says_so(runner):
    runner.expect("vmm.checkpoint_new", dict(VMId=[vm_id(1)], Name="before-patch", Description="batch 7"),
                  [dict(vm_id=vm_id(1), job_id=job_id(4), error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(4)], TimeoutSeconds=30.0, PollSeconds=2.0),
                  [job(4, status="Running", completed=False, progress=40)])
    [item] = VmmClient(runner).create_checkpoints([vm_id(1)], "before-patch", "batch 7", wait_timeout=30,
                                                  poll_interval=2)
    assert "did not finish in time" in outcome_error(item)["message"]
    assert "40%" in outcome_error(item)["message"]


def test_checkpoint_restore_and_remove_address_checkpoint_ids(runner):
    cp = "20000000-0000-4000-8000-000000000001"
    runner.expect("vmm.checkpoint_list", dict(VMId=[vm_id(1)]),
                  [dict(vm_id=vm_id(1), vm_name="a", checkpoints=[], error=None)])
    runner.expect("vmm.checkpoint_restore", dict(CheckpointId=[cp]),
                  [dict(checkpoint_id=cp, vm_id=vm_id(1), job_id=job_id(5), error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(5)], TimeoutSeconds=45.0, PollSeconds=1.5), [job(5)])
    runner.expect("vmm.checkpoint_remove", dict(CheckpointId=[cp]),
                  [dict(checkpoint_id=cp, vm_id=vm_id(1), job_id=job_id(6), error=None)])
    client = VmmClient(runner)
    assert client.list_checkpoints([vm_id(1)])[0]["vm_name"] == "a"
    assert client.restore_checkpoints([cp], wait_timeout=45, poll_interval=1.5)[0]["job"]["status"] == "Completed"
    assert client.remove_checkpoints([cp], wait=False, wait_timeout=45, poll_interval=1.5)[0]["job_id"] == job_id(6)


def test_host_maintenance_moves_within_cluster_only_when_asked(runner):
    runner.expect("vmm.host_list", dict(ClusterName=["c1"]), [{"name": "n1"}])
    runner.expect("vmm.host_maintenance", dict(ComputerName=["n1"], Action="disable", MoveWithinCluster=True),
                  [dict(host="n1", host_id="h", job_id=job_id(7), error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(7)], TimeoutSeconds=1200.0, PollSeconds=10.0), [job(7)])
    runner.expect("vmm.host_maintenance", dict(ComputerName=["n1"], Action="enable"),
                  [dict(host="n1", host_id="h", job_id=job_id(8), error=None)])
    client = VmmClient(runner)
    assert client.list_hosts(clusters="c1") == [{"name": "n1"}]
    client.host_maintenance(["n1"], True, move_within_cluster=True, wait_timeout=1200, poll_interval=10)
    client.host_maintenance(["n1"], False, move_within_cluster=True, wait=False, wait_timeout=60, poll_interval=1)


def test_jobs_by_id_or_newest(runner):
    runner.expect("vmm.job_list", dict(JobId=[job_id(1)]), [job(1)])
    runner.expect("vmm.job_list", dict(Newest=10), [])
    runner.expect("vmm.job_list", {}, [])
    client = VmmClient(runner)
    assert client.list_jobs(ids=job_id(1))[0]["id"] == job_id(1)
    assert client.list_jobs(newest=10) == [] and client.list_jobs() == []


def test_runner_errors_pass_through_unchanged(runner):
    runner.expect("vmm.vm_list", dict(Name=["x"]), PsrpError("vmm01: vmm.vm_list: boom", operation="vmm.vm_list"))
    with pytest.raises(PsrpError, match="boom"):
        VmmClient(runner).find_vms(names=["x"])


def test_writes_need_the_modules_wait_options(runner):
    with pytest.raises(TypeError):
        VmmClient(runner).power([vm_id(1)], "start")  # pylint: disable=missing-kwoa
    assert runner.made == []


def test_the_fake_runner_refuses_unexpected_calls():
    fake = FakeRunner()
    with pytest.raises(pytest.fail.Exception, match="unexpected call"):
        VmmClient(fake).find_vms(names="x")
    fake.expect("vmm.vm_list", dict(Name=["y"]), [])
    with pytest.raises(pytest.fail.Exception, match="expected vmm.vm_list"):
        VmmClient(fake).find_vms(names="x")


def test_a_watched_wait_runs_in_slices_and_reports_the_jobs_between_them(runner, tmp_path):
    status_file = tmp_path / "status.json"
    progress = Progress(environ={PROGRESS_FILE_ENV: str(status_file), PROGRESS_INTERVAL_ENV: "5"})
    client = VmmClient(runner, progress)
    runner.expect("vmm.host_maintenance", dict(ComputerName=["hv01"], Action="disable"),
                  [dict(name="hv01", job_id=job_id(7), error=None)])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(7)], TimeoutSeconds=0.0, PollSeconds=0.1),
                  [job(7, status="Running", completed=False, progress=40)])
    runner.expect("vmm.job_wait", dict(JobId=[job_id(7)], TimeoutSeconds=5.0, PollSeconds=2.0), [job(7)])
    items = client.host_maintenance(["hv01"], True, wait_timeout=1200, poll_interval=2)
    assert items[0]["job"]["status"] == "Completed"
    assert json.loads(status_file.read_text())["text"].startswith("VMM job 'job 7' 40 %, ")


def test_a_watched_wait_still_ends_at_the_timeout(runner, tmp_path):
    progress = Progress(environ={PROGRESS_FILE_ENV: str(tmp_path / "s.json"), PROGRESS_INTERVAL_ENV: "5"})
    client = VmmClient(runner, progress)
    runner.expect("vmm.job_wait", dict(JobId=[job_id(1), job_id(2)], TimeoutSeconds=0.0, PollSeconds=0.1),
                  [job(1), job(2, status="Running", completed=False, progress=10)])
    jobs = client.wait_jobs([job_id(1), job_id(2)], wait_timeout=0, poll_interval=1)
    assert [j["is_completed"] for j in jobs] == [True, False]
    assert jobs_status(jobs) == "1 of 2 VMM jobs done; 'job 2' 10 %"
