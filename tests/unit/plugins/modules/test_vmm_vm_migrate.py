# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _vmm
from ansible_collections.vmops.datacenter.plugins.modules import vmm_vm_migrate
from ansible_collections.vmops.datacenter.tests.unit.plugins.module_utils.test_vmm_client import FakeRunner

PASSWORD = "Psrp-unit-Pa55"
CONNECTION = dict(server="vmm01.test", username="LAB\\ansible", password=PASSWORD, auth="basic", ssl=False,
                  encryption="never")
CLUSTER = "hvc-prod.lab.local"
HV1 = "hv-prod-01.lab.local"
HV2 = "hv-prod-02.lab.local"
WAIT = dict(TimeoutSeconds=1800.0, PollSeconds=2.0)


def hv(n, name, cluster=CLUSTER, maintenance=False, free=131072):
    return dict(id="00000000-0000-4000-9000-%012d" % n, name=name + ".lab.local", computer_name=name, cluster=cluster,
                overall_state="MaintenanceMode" if maintenance else "OK", in_maintenance=maintenance,
                available_for_placement=True, total_memory_mb=262144, available_memory_mb=free, running_vm_count=2)


def vm(n, name, host=HV1, status="Running", ha=True, memory=8192, cluster=CLUSTER):
    return dict(id="00000000-0000-4000-8000-%012d" % n, name=name, status=status, host=host, cluster=cluster,
                is_highly_available=ha, memory_mb=memory)


def job(n, status="Completed", error=None, seconds=12):
    return dict(id="00000000-0000-4000-a000-%012d" % n, name="Migrate virtual machine", status=status,
                is_completed=status != "Running", progress=100 if status != "Running" else 40,
                start_time="2026-11-22T10:00:00.1000000Z",
                end_time=None if status == "Running" else "2026-11-22T10:00:%02d.3000000Z" % seconds, error=error)


def started(v, n, frm=HV1, error=None):
    return dict(vm_id=v["id"], **{"from": frm}, job_id=None if error else job(n)["id"], error=error)


@pytest.fixture
def runner(monkeypatch):
    fake = FakeRunner()
    monkeypatch.setattr(_vmm, "runner_from_params", lambda params, product: fake)
    yield fake
    fake.assert_all_consumed()


@pytest.fixture
def run_module(capsys):
    def run(args, check_mode=False, diff=False):
        full = dict(CONNECTION)
        full.update(args)
        full["_ansible_check_mode"] = check_mode
        full["_ansible_diff"] = diff
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                vmm_vm_migrate.main()
        out = capsys.readouterr().out
        assert PASSWORD not in out, "password leaked into module output"
        return json.loads(out)

    return run


def lookups(runner, host, vms, names=None):
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-02"]), [host] if host else [])
    if host:
        runner.expect("vmm.vm_list", dict(Name=names or [v["name"] for v in vms]), vms)


def ops(runner):
    return [call[0] for call in runner.made]


def test_vms_already_on_the_host_are_a_no_op(runner, run_module):
    web, sql = vm(1, "web", host=HV2), vm(2, "sql", host=HV2)
    lookups(runner, hv(2, "hv-prod-02"), [web, sql])
    result = run_module(dict(vms=["web", "sql"], host="hv-prod-02"), diff=True)
    assert result["changed"] is False and result["plan"] == [] and result["migrated"] == []
    assert [u["name"] for u in result["unchanged"]] == ["web", "sql"] and result["unchanged"][0]["host"] == HV2
    assert result["diff"]["before"] == result["diff"]["after"]
    assert ops(runner) == ["vmm.host_list", "vmm.vm_list"]


def test_check_mode_returns_the_plan_and_moves_nothing(runner, run_module):
    web, sql, there = vm(1, "web"), vm(2, "sql", host="hv-prod-03.lab.local"), vm(3, "there", host=HV2)
    lookups(runner, hv(2, "hv-prod-02"), [web, sql, there])
    result = run_module(dict(vms=["web", "sql", "there"], host="hv-prod-02"), check_mode=True, diff=True)
    assert result["changed"] is True and result["migrated"] == []
    assert [(p["name"], p["from"], p["to"]) for p in result["plan"]] == [
        ("web", HV1, HV2), ("sql", "hv-prod-03.lab.local", HV2)]
    assert [u["name"] for u in result["unchanged"]] == ["there"]
    assert result["diff"]["before"]["vms"][web["id"]] == {"name": "web", "host": HV1}
    assert result["diff"]["after"]["vms"][web["id"]] == {"name": "web", "host": HV2}
    assert result["diff"]["after"]["vms"][there["id"]] == {"name": "there", "host": HV2}
    assert ops(runner) == ["vmm.host_list", "vmm.vm_list"]


def test_migrations_run_in_groups_of_max_parallel(runner, run_module):
    a, b, c = vm(1, "a"), vm(2, "b"), vm(3, "c", host="hv-prod-03.lab.local")
    lookups(runner, hv(2, "hv-prod-02"), [a, b, c])
    runner.expect("vmm.vm_migrate", dict(VMId=[a["id"], b["id"]], HostName=HV2), [started(a, 1), started(b, 2)])
    runner.expect("vmm.job_wait", dict(JobId=[job(1)["id"], job(2)["id"]], **WAIT), [job(1), job(2, seconds=20)])
    runner.expect("vmm.vm_migrate", dict(VMId=[c["id"]], HostName=HV2),
                  [started(c, 3, frm="hv-prod-03.lab.local")])
    runner.expect("vmm.job_wait", dict(JobId=[job(3)["id"]], **WAIT), [job(3)])
    result = run_module(dict(vms=["a", "b", "c"], host="hv-prod-02"))
    assert result["changed"] is True
    assert [(m["name"], m["from"], m["to"], m["job_status"]) for m in result["migrated"]] == [
        ("a", HV1, HV2, "Completed"), ("b", HV1, HV2, "Completed"), ("c", "hv-prod-03.lab.local", HV2, "Completed")]
    assert [m["seconds"] for m in result["migrated"]] == [12.2, 20.2, 12.2]
    assert result["migrated"][0]["job_id"] == job(1)["id"] and "not_started" not in result


def test_vms_by_id_one_at_a_time(runner, run_module):
    a, b = vm(1, "a"), vm(2, "b")
    runner.expect("vmm.host_list", dict(ComputerName=["hv-prod-02"]), [hv(2, "hv-prod-02")])
    runner.expect("vmm.vm_list", dict(VMId=[a["id"], b["id"]]), [a, b])
    for n, v in ((1, a), (2, b)):
        runner.expect("vmm.vm_migrate", dict(VMId=[v["id"]], HostName=HV2), [started(v, n)])
        runner.expect("vmm.job_wait", dict(JobId=[job(n)["id"]], TimeoutSeconds=60.0, PollSeconds=0.5), [job(n)])
    result = run_module(dict(vms=[a["id"], b["id"]], host="hv-prod-02", max_parallel=1, wait_timeout=60,
                             poll_interval=0.5))
    assert [m["name"] for m in result["migrated"]] == ["a", "b"]


def test_unknown_vm_fails_with_801_and_moves_nothing(runner, run_module):
    lookups(runner, hv(2, "hv-prod-02"), [vm(1, "a")], names=["a", "ghost"])
    result = run_module(dict(vms=["a", "ghost"], host="hv-prod-02"))
    assert result["failed"] and "ghost" in result["msg"] and "nothing was changed" in result["msg"]
    assert result["vmm_error"]["error_id"] == 801
    assert "vmm.vm_migrate" not in ops(runner)


def test_unknown_host_fails_with_801(runner, run_module):
    lookups(runner, None, [])
    result = run_module(dict(vms=["a"], host="hv-prod-02"))
    assert result["failed"] and "801" in result["msg"] and "Nothing was changed" in result["msg"]
    assert result["vmm_error"]["target"] == "hv-prod-02" and ops(runner) == ["vmm.host_list"]


@pytest.mark.parametrize("host, vms, fragment", [
    (hv(2, "hv-prod-02", maintenance=True), [vm(1, "a")], "the host is in maintenance mode"),
    (hv(2, "hv-prod-02"), [vm(1, "a", ha=False)], "not highly available"),
    (hv(2, "hv-prod-02"), [vm(1, "a", host="hv-test-01.lab.local", cluster="hvc-test.lab.local")],
     "a (cluster hvc-test.lab.local)"),
    (hv(2, "hv-prod-02", cluster=None), [vm(1, "a")], "node of cluster None"),
    (hv(2, "hv-prod-02", free=10000), [vm(1, "a"), vm(2, "b"), vm(3, "off", status="PowerOff")],
     "need 16384 MB of memory, the host has 10000 MB available"),
])
def test_what_vmm_would_refuse_fails_before_anything_moves(runner, run_module, host, vms, fragment):
    lookups(runner, host, vms)
    result = run_module(dict(vms=[v["name"] for v in vms], host="hv-prod-02"))
    assert result["failed"] and fragment in result["msg"] and "Nothing was changed" in result["msg"], result["msg"]
    assert result["vmm_error"]["error_id"] == 1730 and result["migrated"] == []
    assert "vmm.vm_migrate" not in ops(runner)


def test_a_failed_migration_stops_the_rest(runner, run_module):
    a, b, c = vm(1, "a"), vm(2, "b"), vm(3, "c")
    lookups(runner, hv(2, "hv-prod-02"), [a, b, c])
    runner.expect("vmm.vm_migrate", dict(VMId=[a["id"], b["id"]], HostName=HV2), [started(a, 1), started(b, 2)])
    failure = dict(id=1730, message="Virtual machine b cannot be migrated to host hv-prod-02.lab.local because the "
                   "host does not have enough memory.", recommended_action=None)
    runner.expect("vmm.job_wait", dict(JobId=[job(1)["id"], job(2)["id"]], **WAIT), [job(1), job(2, "Failed", failure)])
    result = run_module(dict(vms=["a", "b", "c"], host="hv-prod-02"))
    assert result["failed"] and "VMM error 1730" in result["msg"] and "not have enough memory" in result["msg"]
    assert result["vmm_error"]["target"] == "b (%s)" % b["id"]
    assert [m["name"] for m in result["migrated"]] == ["a"] and result["not_started"] == [c["id"]]
    assert result["changed"] is True


def test_a_refusal_when_starting_is_reported_with_its_error_id(runner, run_module):
    a = vm(1, "a")
    lookups(runner, hv(2, "hv-prod-02"), [a])
    refusal = dict(id=1730, message="Virtual machine a cannot be deployed or migrated to host hv-prod-02.lab.local "
                   "because the host is in maintenance mode. (Error ID: 1730)")
    runner.expect("vmm.vm_migrate", dict(VMId=[a["id"]], HostName=HV2), [started(a, 1, error=refusal)])
    result = run_module(dict(vms=["a"], host="hv-prod-02"))
    assert result["failed"] and "maintenance mode" in result["msg"] and result["vmm_error"]["error_id"] == 1730
    assert result["migrated"] == [] and result["not_started"] == []


def test_a_job_still_running_at_the_timeout_fails_and_names_it(runner, run_module):
    a = vm(1, "a")
    lookups(runner, hv(2, "hv-prod-02"), [a])
    runner.expect("vmm.vm_migrate", dict(VMId=[a["id"]], HostName=HV2), [started(a, 1)])
    runner.expect("vmm.job_wait", dict(JobId=[job(1)["id"]], **WAIT), [job(1, "Running")])
    result = run_module(dict(vms=["a"], host="hv-prod-02"))
    assert result["failed"] and job(1)["id"] in result["msg"] and "did not finish in time" in result["msg"]


def test_no_wait_starts_the_jobs_and_returns(runner, run_module):
    a, b = vm(1, "a"), vm(2, "b")
    lookups(runner, hv(2, "hv-prod-02"), [a, b])
    runner.expect("vmm.vm_migrate", dict(VMId=[a["id"], b["id"]], HostName=HV2), [started(a, 1), started(b, 2)])
    result = run_module(dict(vms=["a", "b"], host="hv-prod-02", wait=False))
    assert [(m["name"], m["job_status"], m["seconds"]) for m in result["migrated"]] == [
        ("a", "Running", None), ("b", "Running", None)]


def test_no_wait_refuses_more_vms_than_max_parallel(runner, run_module):
    vms = [vm(1, "a"), vm(2, "b"), vm(3, "c")]
    lookups(runner, hv(2, "hv-prod-02"), vms)
    result = run_module(dict(vms=["a", "b", "c"], host="hv-prod-02", wait=False))
    assert result["failed"] and "at most max_parallel (2)" in result["msg"] and "vmm.vm_migrate" not in ops(runner)


@pytest.mark.parametrize("args, fragment", [
    (dict(vms=[]), "vms must name at least one VM"),
    (dict(vms=["a"], max_parallel=0), "max_parallel must be at least 1"),
    (dict(vms=["a"], wait_timeout=0), "wait_timeout must be greater than zero"),
])
def test_bad_input_fails_without_a_session(monkeypatch, run_module, args, fragment):
    monkeypatch.setattr(_vmm, "runner_from_params", lambda *a: pytest.fail("no session for bad input"))
    result = run_module(dict(args, host="hv-prod-02"))
    assert result["failed"] and fragment in result["msg"]


def test_job_seconds_reads_vmm_round_trip_times():
    assert vmm_vm_migrate.job_seconds(dict(start_time="2026-11-22T23:59:59.9000000Z",
                                           end_time="2026-11-23T00:00:01.4000000Z")) == 1.5
    assert vmm_vm_migrate.job_seconds(dict(start_time="2026-11-22T10:00:00Z", end_time=None)) is None
    assert vmm_vm_migrate.job_seconds(None) is None
