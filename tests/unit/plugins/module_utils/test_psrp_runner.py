# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PsrpRunner with pypsrp's WSMan, RunspacePool and PowerShell replaced by recording fakes."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pypsrp")

import requests.exceptions  # noqa: E402  (after the skip: pypsrp brings requests)
from pypsrp.exceptions import AuthenticationError, WinRMTransportError  # noqa: E402
from pypsrp.powershell import PSInvocationState  # noqa: E402

from ansible_collections.vmops.datacenter.plugins.module_utils import _psrp  # noqa: E402
from ansible_collections.vmops.datacenter.plugins.module_utils._psrp import (  # noqa: E402
    CATALOGUE,
    ERROR_CATEGORIES,
    PsrpError,
    PsrpRunner,
    connect_params,
)

PASSWORD = "Pa55-unit;secret"
VMM_PASSWORD = "Vmm-hop-Pa55"
HOSTILE = "web01'; Remove-Item C:\\ -Recurse | & $(whoami) `n \" ' @{}"


class FakeRecord:
    """The parts of a pypsrp ErrorRecord the runner reads."""

    def __init__(self, message, fq_error="VmopsTest.Error", category=13):
        self.fq_error = fq_error
        self.category = category
        self.exception = type("Exc", (), {"adapted_properties": {"Message": message}})()

    def __str__(self):
        return self.exception.adapted_properties["Message"]


class Wire:
    """What the fakes saw, and the answers they give (per operation, in order)."""

    def __init__(self):
        self.wsman = []
        self.pools = []
        self.pipelines = []
        self.answers = {}

    def answer(self, op, *answers):
        self.answers.setdefault(op, []).extend(answers)

    def ops(self):
        return [p.op for p in self.pipelines]


def out(value):
    return ("out", [json.dumps(value)], [])


def failed(message, **kwargs):
    return ("failed", [], [FakeRecord(message, **kwargs)])


def raises(exc):
    return ("raise", exc, None)


@pytest.fixture
def wire(monkeypatch):
    wire = Wire()

    class FakeWSMan:
        def __init__(self, **kwargs):
            wire.wsman.append(kwargs)

    class FakePool:
        def __init__(self, connection, configuration_name=None, max_runspaces=None):
            self.configuration_name = configuration_name
            self.max_runspaces = max_runspaces
            self.opened = self.closed = self.keys = False
            wire.pools.append(self)

        def open(self):
            answer = wire.answers.get("<open>")
            if answer:
                raise answer.pop(0)
            self.opened = True

        def exchange_keys(self):
            self.keys = True

        def close(self):
            self.closed = True

    class FakePowerShell:
        def __init__(self, pool):
            self.pool = pool
            self.script = None
            self.params = {}
            self.output = []
            self.state = PSInvocationState.NOT_STARTED
            self.had_errors = False
            self.streams = type("Streams", (), {"error": []})()
            wire.pipelines.append(self)

        @property
        def op(self):
            return self.script.split("\n", 1)[0].split()[2]

        def add_script(self, script):
            self.script = script
            return self

        def add_parameters(self, params):
            self.params.update(params)
            return self

        def invoke(self):
            assert self.pool.opened and not self.pool.closed
            queue = wire.answers.get(self.op)
            assert queue, "unexpected pipeline %s %r" % (self.op, self.params)
            kind, output, errors = queue.pop(0)
            if kind == "raise":
                raise output
            self.streams.error = errors
            self.state = PSInvocationState.FAILED if kind == "failed" else PSInvocationState.COMPLETED
            self.had_errors = kind == "failed"
            self.output = output
            return output

    monkeypatch.setattr(_psrp, "WSMan", FakeWSMan)
    monkeypatch.setattr(_psrp, "RunspacePool", FakePool)
    monkeypatch.setattr(_psrp, "PowerShell", FakePowerShell)
    yield wire
    leftover = dict((op, q) for op, q in wire.answers.items() if q)
    assert not leftover, "answers never asked for: %r" % leftover


def runner(**kwargs):
    args = dict(port=5985, ssl=False, auth="basic", username="LAB\\ansible", password=PASSWORD, encryption="never",
                connect_op="vmm.connect", connect_params=connect_params("vmm"), sleep=lambda s: None)
    args.update(kwargs)
    return PsrpRunner("vmm01.lab.local", **args)


CONNECTED = out({"server": "vmm01.lab.local", "version": "10.22.0.0"})


def test_arguments_travel_as_psrp_parameters_never_in_the_script(wire):
    wire.answer("vmm.connect", CONNECTED)
    wire.answer("vmm.vm_list", out([{"id": "a", "name": HOSTILE}]), out([]))
    with runner() as r:
        assert r.run("vmm.vm_list", Name=[HOSTILE]) == [{"id": "a", "name": HOSTILE}]
        assert r.run("vmm.vm_list", CustomPropertyName="Custom1", CustomPropertyValue=HOSTILE) == []
        assert r.connected == {"server": "vmm01.lab.local", "version": "10.22.0.0"}
    assert wire.ops() == ["vmm.connect", "vmm.vm_list", "vmm.vm_list"]
    connect, first, second = wire.pipelines
    assert connect.params == {"Server": "localhost"}
    assert first.params == {"Name": [HOSTILE]}
    assert second.params == {"CustomPropertyName": "Custom1", "CustomPropertyValue": HOSTILE}
    for ps in wire.pipelines:
        assert ps.script == CATALOGUE[ps.op]
        assert HOSTILE not in ps.script
    [pool] = wire.pools
    assert pool.closed and pool.max_runspaces == 1 and pool.configuration_name == "Microsoft.PowerShell"
    assert not pool.keys  # no SecureString to send without a jump-box credential


def test_connection_options_reach_wsman(wire):
    wire.answer("vmm.connect", CONNECTED)
    wire.answer("vmm.host_list", out([]))
    with runner(ssl=True, port=None, auth="negotiate", ca_path="/etc/lab/ca.pem", operation_timeout=15,
                connection_timeout=7, encryption="auto", configuration_name="VmmOps") as r:
        r.run("vmm.host_list")
    [args] = wire.wsman
    assert args["cert_validation"] == "/etc/lab/ca.pem" and args["ssl"] is True and args["port"] is None
    assert args["auth"] == "negotiate" and args["encryption"] == "auto"
    assert args["operation_timeout"] == 15 and args["read_timeout"] > 15 and args["connection_timeout"] == 7
    assert wire.pools[0].configuration_name == "VmmOps"
    wire.answer("vmm.connect", CONNECTED)
    wire.answer("vmm.host_list", out([]))
    with runner(validate_certs=False, ca_path="/etc/lab/ca.pem") as r:
        r.run("vmm.host_list")
    assert wire.wsman[1]["cert_validation"] is False


def test_jump_box_credential_is_a_secure_string_after_key_exchange(wire):
    wire.answer("vmm.connect", CONNECTED)
    wire.answer("vmm.job_list", out([]))
    params = connect_params("vmm", "vmm-ha.lab.local", "LAB\\vmmadmin", VMM_PASSWORD)
    with runner(connect_params=params, secrets=[VMM_PASSWORD]) as r:
        r.run("vmm.job_list", Newest=5)
    connect = wire.pipelines[0]
    assert connect.params["Server"] == "vmm-ha.lab.local" and connect.params["UserName"] == "LAB\\vmmadmin"
    assert connect.params["Password"].tag == "SS" and connect.params["Password"].value == VMM_PASSWORD
    assert wire.pools[0].keys
    assert VMM_PASSWORD not in connect.script


def test_powershell_errors_name_server_operation_id_category_and_message(wire):
    wire.answer("vmm.connect", CONNECTED)
    wire.answer("vmm.vm_power", failed("Cannot convert value \"x\" to type \"System.Guid\".",
                                       fq_error="ParameterArgumentTransformationError", category=6))
    with runner() as r:
        with pytest.raises(PsrpError) as caught:
            r.run("vmm.vm_power", VMId=["x"], Action="start")
    err = caught.value
    assert err.server == "vmm01.lab.local" and err.operation == "vmm.vm_power"
    assert err.error_id == "ParameterArgumentTransformationError" and err.category == "InvalidData"
    assert "System.Guid" in err.ps_message
    assert str(err).startswith("vmm01.lab.local: vmm.vm_power: PowerShell error ParameterArgumentTransformationError")
    assert "Traceback" not in str(err)
    assert err.as_dict()["category"] == "InvalidData"
    assert wire.pools[0].closed
    assert len(wire.pipelines) == 2  # a write is never repeated


@pytest.mark.parametrize("params, hint", [
    (connect_params("vmm", "vmm01.lab.local"), True),  # from a jump box, no credential: the double hop
    (connect_params("vmm", "vmm01.lab.local", "LAB\\vmmadmin", VMM_PASSWORD), False),  # a wrong credential
    (connect_params("vmm"), False),  # on the VMM server itself
])
def test_access_denied_on_connect_names_the_double_hop_only_when_it_is_one(wire, params, hint):
    wire.answer("vmm.connect", failed("You cannot access the VMM management server vmm01.lab.local: Access is denied.",
                                      fq_error="CannotConnectToVMMServer",
                                      category=ERROR_CATEGORIES.index("PermissionDenied")))
    with pytest.raises(PsrpError) as caught:
        runner(connect_params=params, secrets=[VMM_PASSWORD]).run("vmm.host_list")
    message = str(caught.value)
    assert "Access is denied" in message and caught.value.category == "PermissionDenied"
    assert ("double hop" in message and "vmm_username" in message) is hint
    assert VMM_PASSWORD not in message


def test_the_pool_is_closed_when_connect_fails_and_the_next_run_starts_over(wire):
    wire.answer("vmm.connect", failed("You cannot contact the VMM management server nowhere.",
                                      fq_error="CannotConnectToVMMServer", category=27), CONNECTED)
    wire.answer("vmm.host_list", out([{"name": "h1"}]))
    r = runner(retries=0)
    with pytest.raises(PsrpError, match="vmm.connect: PowerShell error CannotConnectToVMMServer"):
        r.run("vmm.host_list")
    assert wire.pools[0].closed
    assert r.run("vmm.host_list") == [{"name": "h1"}]
    r.close()
    assert len(wire.pools) == 2 and wire.pools[1].closed


def test_the_pool_is_closed_when_the_work_fails(wire):
    wire.answer("vmm.connect", CONNECTED, CONNECTED)
    with pytest.raises(RuntimeError):
        with runner() as r:
            r.run("vmm.connect")  # opening runs connect once; this is the second connect
            raise RuntimeError("module bug")
    assert wire.pools[0].closed


def test_passwords_never_appear_in_errors(wire):
    wire.answer("<open>", AuthenticationError("Failed to authenticate the user LAB\\ansible with password %s" % PASSWORD))
    with pytest.raises(PsrpError) as caught:
        runner(retries=0).run("vmm.host_list")
    assert PASSWORD not in str(caught.value) and "authentication failed (auth=basic" in str(caught.value)
    assert PASSWORD not in repr(caught.value.as_dict())
    wire.answer("vmm.connect", failed("Logon failure for %s / %s" % (PASSWORD, VMM_PASSWORD)))
    params = connect_params("vmm", "vmm02", "LAB\\hop", VMM_PASSWORD)
    with pytest.raises(PsrpError) as caught:
        runner(retries=0, connect_params=params, secrets=[VMM_PASSWORD]).run("vmm.host_list")
    text = str(caught.value) + repr(caught.value.as_dict())
    assert PASSWORD not in text and VMM_PASSWORD not in text and "********" in text


def test_reads_are_retried_with_backoff_on_transient_faults(wire):
    sleeps = []
    wire.answer("vmm.connect", CONNECTED, CONNECTED, CONNECTED)
    wire.answer("vmm.vm_list",
                raises(WinRMTransportError("http", 503, "Service Unavailable")),
                raises(requests.exceptions.ConnectionError("Connection reset by peer")),
                out([]))
    wire.answer("vmm.job_list", failed("The VMM server is busy. (Error ID: 1600)"), out([]))
    with runner(retries=3, sleep=sleeps.append) as r:
        assert r.run("vmm.vm_list") == []
        assert r.run("vmm.job_list") == []
    assert len(sleeps) == 3 and all(0 < s <= 20 for s in sleeps)
    # a fresh pool (and connect) after each lost connection
    assert wire.ops() == ["vmm.connect", "vmm.vm_list", "vmm.connect", "vmm.vm_list", "vmm.connect", "vmm.vm_list",
                          "vmm.job_list", "vmm.job_list"]
    assert all(p.closed for p in wire.pools)


def test_retries_are_capped(wire):
    wire.answer("vmm.connect", CONNECTED, CONNECTED, CONNECTED)
    wire.answer("vmm.host_list", *[raises(WinRMTransportError("http", 503, "busy"))] * 3)
    with pytest.raises(PsrpError, match="503") as caught:
        runner(retries=2).run("vmm.host_list")
    assert caught.value.transient


@pytest.mark.parametrize("op, params", [
    ("vmm.vm_power", dict(VMId=["1"], Action="stop")),
    ("vmm.checkpoint_new", dict(VMId=["1"], Name="n")),
    ("vmm.host_maintenance", dict(ComputerName=["h"], Action="disable")),
])
def test_writes_are_never_repeated(wire, op, params):
    wire.answer("vmm.connect", CONNECTED)
    wire.answer(op, raises(requests.exceptions.ConnectionError("Connection reset by peer")))
    with pytest.raises(PsrpError, match="not repeated"):
        with runner(retries=5) as r:
            r.run(op, **params)
    assert wire.ops() == ["vmm.connect", op]


def test_non_terminating_errors_beside_an_answer_become_warnings(wire):
    wire.answer("vmm.connect", CONNECTED)
    wire.answer("vmm.host_list", ("out", [json.dumps([])], [FakeRecord("host h9 not responding")]))
    with runner() as r:
        assert r.run("vmm.host_list") == []
    assert r.warnings == ["vmm.host_list: host h9 not responding"]


@pytest.mark.parametrize("output, text", [
    ([], "got 0 output object"),
    (["not json"], "not JSON"),
    (["[]", "[]"], "got 2 output object"),
])
def test_answers_that_break_the_contract(wire, output, text):
    wire.answer("vmm.connect", CONNECTED)
    wire.answer("vmm.host_list", ("out", output, []))
    with pytest.raises(PsrpError, match=text):
        with runner() as r:
            r.run("vmm.host_list")


def test_unknown_operation_is_refused_before_connecting(wire):
    with pytest.raises(PsrpError, match="unknown operation"):
        runner().run("vmm.format_disk")
    assert not wire.pools
