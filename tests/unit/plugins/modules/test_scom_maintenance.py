# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.vmops.datacenter.plugins.module_utils import _scom
from ansible_collections.vmops.datacenter.plugins.modules import scom_maintenance
from ansible_collections.vmops.datacenter.tests.unit.plugins.module_utils.test_vmm_client import FakeRunner

PASSWORD = "Psrp-unit-Pa55"
VMM_PASSWORD = "Vmm-unit-Pa55"
CONNECTION = dict(server="scom01.test", username="LAB\\ansible", password=PASSWORD, auth="basic", ssl=False,
                  encryption="never")
CONNECTED = {"server": "localhost", "management_group": "LAB-MG"}
NOW = datetime(2026, 11, 22, 7, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def runner(monkeypatch):
    fake = FakeRunner()
    fake.connected = CONNECTED
    made = []

    def factory(params, product):
        made.append((params, product))
        return fake

    monkeypatch.setattr(_scom, "runner_from_params", factory)
    monkeypatch.setattr(_scom, "utc_now", lambda: NOW)
    monkeypatch.setattr(scom_maintenance, "utc_now", lambda: NOW)
    fake.factory_calls = made
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
                scom_maintenance.main()
        out = capsys.readouterr().out
        assert PASSWORD not in out and VMM_PASSWORD not in out, "password leaked into module output"
        return json.loads(out)

    return run


WEB1 = "00000000-0000-4000-b000-000000000001"
WEB2 = "00000000-0000-4000-b000-000000000002"


def obj(oid, name, end=None, reason="PlannedOther", comment=""):
    window = None
    if end:
        window = dict(start_time="2026-11-22T06:00:00.0000000Z", end_time=end, reason=reason, comment=comment,
                      user="LAB\\ansible")
    return dict(id=oid, display_name=name, in_maintenance=window is not None, maintenance=window, error=None)


def test_present_starts_extends_and_leaves_alone(runner, run_module):
    web3 = "00000000-0000-4000-b000-000000000003"
    runner.expect("scom.object_list", dict(DisplayName=["web1.lab.local", "WEB2.lab.local"]),
                  [obj(WEB1, "web1.lab.local"), obj(WEB2, "web2.lab.local", end="2026-11-22T07:30:00.1234567Z")])
    runner.expect("scom.object_list", dict(Id=[web3]), [obj(web3, "web3.lab.local", end="2026-11-22T09:00:00Z")])
    runner.expect("scom.maintenance_start", dict(Id=[WEB1], EndTime="2026-11-22T08:00:00Z", Comment="batch 7"),
                  [obj(WEB1, "web1.lab.local", end="2026-11-22T08:00:00Z", comment="batch 7")])
    runner.expect("scom.maintenance_update", dict(Id=[WEB2], EndTime="2026-11-22T08:00:00Z", Comment="batch 7"),
                  [obj(WEB2, "web2.lab.local", end="2026-11-22T08:00:00Z", comment="batch 7")])
    result = run_module(dict(objects=["web1.lab.local", "WEB2.lab.local", web3], duration=60, comment="batch 7"),
                        diff=True)
    assert result["changed"] is True and result["end_time"] == "2026-11-22T08:00:00Z"
    assert [(o["display_name"], o["action"]) for o in result["objects"]] == [
        ("web1.lab.local", "start"), ("web2.lab.local", "extend"), ("web3.lab.local", "none")]
    assert result["objects"][1]["requested"] == "WEB2.lab.local"
    assert result["diff"]["before"]["objects"]["web1.lab.local"] is None
    assert result["diff"]["after"]["objects"]["web2.lab.local"]["end_time"] == "2026-11-22T08:00:00Z"


def test_present_is_a_no_op_within_a_minute(runner, run_module):
    runner.expect("scom.object_list", dict(DisplayName=["web1.lab.local"]),
                  [obj(WEB1, "web1.lab.local", end="2026-11-22T07:59:30Z")])
    result = run_module(dict(objects=["web1.lab.local"], duration=60))
    assert result["changed"] is False and result["objects"][0]["action"] == "none"
    assert [call[0] for call in runner.made] == ["scom.object_list"]


def test_check_mode_calls_no_write(runner, run_module):
    runner.expect("scom.object_list", dict(DisplayName=["web1.lab.local", "web2.lab.local"]),
                  [obj(WEB1, "web1.lab.local"), obj(WEB2, "web2.lab.local", end="2026-11-22T07:10:00Z")])
    result = run_module(dict(objects=["web1.lab.local", "web2.lab.local"], end_time="2026-11-22T10:00:00+02:00",
                             reason="PlannedHardwareMaintenance"), check_mode=True, diff=True)
    assert result["changed"] is True and result["end_time"] == "2026-11-22T08:00:00Z"
    assert [o["action"] for o in result["objects"]] == ["start", "extend"]
    assert result["objects"][0]["after"]["reason"] == "PlannedHardwareMaintenance"
    assert [call[0] for call in runner.made] == ["scom.object_list"]


def test_absent_stops_only_objects_in_maintenance(runner, run_module):
    runner.expect("scom.object_list", dict(DisplayName=["web1.lab.local", "web2.lab.local"]),
                  [obj(WEB1, "web1.lab.local"), obj(WEB2, "web2.lab.local", end="2026-11-22T07:10:00Z")])
    runner.expect("scom.maintenance_stop", dict(Id=[WEB2]), [obj(WEB2, "web2.lab.local")])
    result = run_module(dict(objects=["web1.lab.local", "web2.lab.local"], state="absent"))
    assert result["changed"] is True
    assert [(o["action"], o["after"]) for o in result["objects"]] == [("none", None), ("stop", None)]
    assert "end_time" not in result


def test_absent_no_op(runner, run_module):
    runner.expect("scom.object_list", dict(DisplayName=["web1.lab.local"]), [obj(WEB1, "web1.lab.local")])
    result = run_module(dict(objects=["web1.lab.local"], state="absent"))
    assert result["changed"] is False


def test_unknown_object_fails_before_any_change(runner, run_module):
    runner.expect("scom.object_list", dict(DisplayName=["web1.lab.local", "nope.lab.local"]),
                  [obj(WEB1, "web1.lab.local")])
    result = run_module(dict(objects=["web1.lab.local", "nope.lab.local"], duration=30))
    assert result["failed"] and "nope.lab.local" in result["msg"] and "nothing was changed" in result["msg"]
    assert result["scom_error"]["target"] == ["nope.lab.local"]


def test_per_object_error_fails_with_id_and_message(runner, run_module):
    runner.expect("scom.object_list", dict(Id=[WEB1]), [obj(WEB1, "web1.lab.local")])
    runner.expect("scom.maintenance_start", dict(Id=[WEB1], EndTime="2026-11-22T07:30:00Z"),
                  [dict(obj(WEB1, "web1.lab.local"), error=dict(id=None, message="Access denied."))])
    result = run_module(dict(objects=[WEB1], duration=30))
    assert result["failed"] and WEB1 in result["msg"] and "Access denied." in result["msg"]
    assert result["objects"][0]["error"] == "Access denied."
    assert result["scom_error"]["target"] == WEB1


def test_present_needs_an_end(runner, run_module):
    result = run_module(dict(objects=["web1"]))
    assert result["failed"] and "duration" in result["msg"]
    assert runner.factory_calls == []


def test_end_time_in_the_past_is_refused(runner, run_module):
    result = run_module(dict(objects=["web1"], end_time="2026-11-22T06:00:00Z"))
    assert result["failed"] and "not in the future" in result["msg"]


def test_bad_end_time_is_refused(runner, run_module):
    result = run_module(dict(objects=["web1"], end_time="tomorrow"))
    assert result["failed"] and "ISO 8601" in result["msg"]


def test_class_name_is_passed(runner, run_module):
    runner.expect("scom.object_list", dict(ClassName="Microsoft.SystemCenter.HealthService",
                                           DisplayName=["hv1.lab.local"]),
                  [obj(WEB1, "hv1.lab.local", end="2026-11-22T08:00:00Z")])
    runner.expect("scom.maintenance_stop", dict(Id=[WEB1], ClassName="Microsoft.SystemCenter.HealthService"),
                  [obj(WEB1, "hv1.lab.local")])
    result = run_module(dict(objects=["hv1.lab.local"], class_name="Microsoft.SystemCenter.HealthService",
                             state="absent"))
    assert result["changed"] is True and result["objects"][0]["action"] == "stop"
