"""PSRP simulator: real pypsrp clients against the WS-Man/PSRP server on loopback."""

from __future__ import annotations

import datetime
import json
import socket
import threading
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
from pypsrp.complex_objects import PSInvocationState, RunspacePoolState
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import TaggedValue
from pypsrp.wsman import SelectorSet, WSMan

from simulators.psrp import Dispatcher, PowerShellError, PsrpServer
from simulators.psrp.script import declared_params, find_marker

POWERSHELL_URI = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
METACHARACTERS = [
    "; Remove-Item C:\\ -Recurse | Out-Null & calc.exe",
    "$(Stop-Computer) ${env:PATH} `$x `n `\" '' \"\"",
    "it's \"quoted\" @{a=1} @(1,2) {script}",
    "line1\nline2\r\nline3\ttab",
    "#> <# # op: vmm.vm_delete v1",
    "",
    "   ",
    "\x00\x01\x1f\x7f control",
    "ünïcödé ☃ 日本語 𝄞",
    "x" * 20000,
]


def script(op: str, *params: str, body: str = "") -> str:
    decl = ", ".join(f"[Parameter()]${p}" for p in params)
    return f"# op: {op} v1\n[CmdletBinding()]\nparam({decl})\n{body}\n"


def wsman_for(srv: PsrpServer, **kw) -> WSMan:
    kw.setdefault("password", srv.password)
    return WSMan(srv.host, port=srv.port, path="wsman", auth="basic", encryption="never", ssl=False,
                 username=srv.username, **kw)


def run(pool: RunspacePool, text: str, params: dict | None = None) -> PowerShell:
    ps = PowerShell(pool)
    ps.add_script(text)
    if params:
        ps.add_parameters(params)
    ps.invoke()
    return ps


class Sim:
    def __init__(self, srv: PsrpServer):
        self.srv = srv
        self.calls: list[tuple[str, dict, object]] = []

    def pool(self, **kw) -> RunspacePool:
        pool = RunspacePool(wsman_for(self.srv), **kw)
        pool.open()
        return pool


@pytest.fixture
def sim():
    srv = PsrpServer(password="sim-pass")
    state = Sim(srv)

    def record(name):
        def handler(params, ctx):
            state.calls.append((name, params, ctx))
            return [json.dumps({"op": ctx.op, "params": sorted(params)})]
        return handler

    srv.register("test.echo", record("test.echo"))
    srv.register("vmm.vm_list", lambda p, c: [json.dumps([{"Name": "vm1", "Status": "Running"}])])
    with srv:
        yield state


def test_https_with_the_lab_certificate(pki):
    with PsrpServer(password="pw", pki=pki, host="127.0.0.1") as srv:
        srv.register("vmm.vm_list", lambda p, c: ["[]"])
        ep = srv.endpoint | {"server": "localhost"}
        assert srv.url.startswith("https://") and ep["cert_validation"] == pki.ca_path
        with RunspacePool(WSMan(**ep)) as pool:
            assert run(pool, script("vmm.vm_list")).output == ["[]"]
        with pytest.raises(requests.exceptions.SSLError):
            RunspacePool(WSMan(**(ep | {"cert_validation": True}))).open()  # public CAs only: refused


def test_open_and_close_pool(sim):
    pool = RunspacePool(wsman_for(sim.srv))
    pool.open()
    assert pool.state == RunspacePoolState.OPENED
    assert pool.protocol_version == "2.3"
    assert pool.application_private_data.data["PSVersionTable"]["PSEdition"] == "Desktop"
    assert pool.is_alive()
    assert sim.srv.stats()["shells_open"] == 1
    pool.close()
    assert sim.srv.stats()["shells_open"] == 0
    stats = sim.srv.stats()
    assert stats["requests_by_action"] == {"Create": 1, "Receive": 1, "Get": 1, "Delete": 1}


def test_operation_returns_json(sim):
    with RunspacePool(wsman_for(sim.srv)) as pool:
        ps = run(pool, script("vmm.vm_list"))
        assert ps.state == PSInvocationState.COMPLETED and not ps.had_errors and ps.streams.error == []
        assert json.loads(ps.output[0]) == [{"Name": "vm1", "Status": "Running"}]


def test_string_parameters_arrive_as_data(sim):
    params = {f"P{i}": s for i, s in enumerate(METACHARACTERS)}
    text = script("test.echo", *params)
    with RunspacePool(wsman_for(sim.srv)) as pool:
        ps = run(pool, text, params)
        assert ps.state == PSInvocationState.COMPLETED, ps.streams.error
    name, got, ctx = sim.calls[-1]
    assert got == params and all(type(v) is str for v in got.values())
    assert ctx.script == text  # the script text is unchanged, the values never enter it
    assert sim.srv.operations("test.echo") == [("test.echo", params)]


def test_typed_parameters_round_trip(sim):
    when = ET.Element("DT")
    when.text = "2024-01-02T03:04:05.123456Z"
    params = {
        "Count": 42, "Negative": -7, "Big": TaggedValue("I64", 2**40), "Ratio": TaggedValue("Db", 0.1),
        "Enabled": True, "Disabled": False, "Nothing": None, "Names": ["a", "b;c", ""], "Empty": [],
        "Props": {"Owner": "ops", "Tier": 2, "Nested": {"k": [1, None]}}, "When": when,
    }
    with RunspacePool(wsman_for(sim.srv)) as pool:
        ps = run(pool, script("test.echo", *params), params)
        assert ps.state == PSInvocationState.COMPLETED, ps.streams.error
    got = sim.calls[-1][1]
    assert got == {
        "Count": 42, "Negative": -7, "Big": 2**40, "Ratio": 0.1, "Enabled": True, "Disabled": False,
        "Nothing": None, "Names": ["a", "b;c", ""], "Empty": [],
        "Props": {"Owner": "ops", "Tier": 2, "Nested": {"k": [1, None]}},
        "When": datetime.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc),
    }
    assert type(got["Count"]) is int and type(got["Enabled"]) is bool and type(got["Props"]) is dict
    assert type(got["Names"]) is list and type(got["Props"]["Owner"]) is str


def test_secure_string_parameter_after_key_exchange(sim):
    with RunspacePool(wsman_for(sim.srv)) as pool:
        pool.exchange_keys()
        ps = run(pool, script("test.echo", "Password"), {"Password": TaggedValue("SS", "s3cr3t;$x")})
        assert ps.state == PSInvocationState.COMPLETED
    assert sim.calls[-1][1] == {"Password": "s3cr3t;$x"}


def test_output_types(sim):
    sim.srv.register("test.types", lambda p, c: [
        "text", 7, 2**40, 2.5, True, {"a": [1, "x", None]}, ["l", 1],
        datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)])
    with RunspacePool(wsman_for(sim.srv)) as pool:
        out = run(pool, script("test.types")).output
    assert out == ["text", 7, 2**40, 2.5, True, {"a": [1, "x", None]}, ["l", 1], "2024-05-06T07:08:09Z"]


def test_pipeline_input_reaches_the_handler(sim):
    sim.srv.register("test.input", lambda p, c: [json.dumps(c.input)])
    with RunspacePool(wsman_for(sim.srv)) as pool:
        ps = PowerShell(pool)
        ps.add_script(script("test.input"))
        out = ps.invoke(input=["vm1", 2, {"k": True}])
    assert json.loads(out[0]) == ["vm1", 2, {"k": True}]


def test_non_terminating_errors_leave_the_pipeline_completed(sim):
    def handler(params, ctx):
        ctx.write_error("VM vm9 was not found.", "801,Microsoft.SystemCenter.VirtualMachineManager.Cmdlets.GetVMCmdlet",
                        "ObjectNotFound", target="vm9")
        ctx.write_warning("careful")
        ctx.progress("Refreshing", "half", percent=50)
        return ["partial"]

    sim.srv.register("vmm.vm_get", handler)
    with RunspacePool(wsman_for(sim.srv)) as pool:
        ps = run(pool, script("vmm.vm_get"))
    assert ps.state == PSInvocationState.COMPLETED and not ps.had_errors
    assert ps.output == ["partial"]
    [err] = ps.streams.error
    assert str(err.message) == "ObjectNotFound (vm9:String) [Write-Error], WriteErrorException"
    assert err.fq_error.startswith("801,") and err.target_name == "vm9"
    assert err.exception.adapted_properties["Message"] == "VM vm9 was not found."
    assert [str(w.message) for w in ps.streams.warning] == ["careful"]
    assert ps.streams.progress[0].percent_complete == 50
    assert sim.srv.pipelines[-1].errors == 1 and sim.srv.pipelines[-1].state == "Completed"


def test_terminating_error_fails_the_pipeline(sim):
    def handler(params, ctx):
        ctx.write_output("before")
        raise PowerShellError("The host is in maintenance mode.", "1730,Carmine", "InvalidOperation",
                              exception_type="Microsoft.VirtualManager.Utils.CarmineException")

    sim.srv.register("vmm.vm_start", handler)
    with RunspacePool(wsman_for(sim.srv)) as pool:
        ps = run(pool, script("vmm.vm_start"))
        assert ps.state == PSInvocationState.FAILED and ps.had_errors
        assert ps.output == ["before"]
        [err] = ps.streams.error
        assert err.fq_error == "1730,Carmine"
        assert err.reason == "CarmineException" and err.category == 7  # InvalidOperation
        assert err.exception.adapted_properties["Message"] == "The host is in maintenance mode."
        # the pool stays usable after a failed pipeline
        assert run(pool, script("vmm.vm_list")).state == PSInvocationState.COMPLETED
    record = [p for p in sim.srv.pipelines if p.op == "vmm.vm_start"][0]
    assert (record.state, record.error_id) == ("Failed", "1730,Carmine")


def test_handler_bug_is_a_powershell_error_not_a_hang(sim):
    sim.srv.register("test.bug", lambda p, c: 1 / 0)
    with RunspacePool(wsman_for(sim.srv)) as pool:
        ps = run(pool, script("test.bug"))
    assert ps.state == PSInvocationState.FAILED
    assert "ZeroDivisionError" in ps.streams.error[0].exception.adapted_properties["Message"]


@pytest.mark.parametrize("build, fq_error, message", [
    (lambda ps: ps.add_script("Get-SCVirtualMachine | ConvertTo-Json"), "VmopsSimulator.NoOperationMarker",
     "has no '# op: <product>.<name> v<N>' marker"),
    (lambda ps: ps.add_script(script("vmm.no_such_op")), "VmopsSimulator.UnknownOperation",
     "unknown operation 'vmm.no_such_op' (v1)"),
    (lambda ps: ps.add_script("# op: vmm.vm_list v9\nparam()"), "VmopsSimulator.UnknownOperationVersion",
     "has no version v9"),
    (lambda ps: ps.add_cmdlet("Get-SCVMHost").add_parameter("ComputerName", "h1"), "CommandNotFoundException",
     "The term 'Get-SCVMHost' is not recognized as the name of a cmdlet"),
])
def test_unknown_operations_get_powershell_errors(sim, build, fq_error, message):
    sim.srv.register("vmm.vm_list", lambda p, c: [], versions=[1], replace=True)
    with RunspacePool(wsman_for(sim.srv)) as pool:
        ps = PowerShell(pool)
        build(ps)
        ps.invoke()
    assert ps.state == PSInvocationState.FAILED
    [err] = ps.streams.error
    assert err.fq_error == fq_error and message in err.exception.adapted_properties["Message"]


def test_parameter_binding_like_powershell(sim):
    text = "# op: test.echo v1\nparam(\n  [Parameter(Mandatory = $true)][string]$VMName,\n  [int]$Count = 1,\n  [switch]$Force\n)\n"
    with RunspacePool(wsman_for(sim.srv)) as pool:
        assert run(pool, text, {"vmname": "a", "Force": True}).state == PSInvocationState.COMPLETED
        assert sim.calls[-1][1] == {"VMName": "a", "Force": True}  # declared spelling, as PowerShell binds
        ps = PowerShell(pool)
        ps.add_script(text).add_argument("positional").add_argument(3)
        ps.invoke()
        assert sim.calls[-1][1] == {"VMName": "positional", "Count": 3}
        bad = run(pool, text, {"VMName": "a", "Cuont": 2})
        assert bad.state == PSInvocationState.FAILED
        assert bad.streams.error[0].fq_error == "NamedParameterNotFound"
        missing = run(pool, text, {"Count": 2})
        assert "missing mandatory parameters: VMName" in missing.streams.error[0].exception.adapted_properties["Message"]
        ambiguous = run(pool, script("test.echo", "VMName", "VMHost"), {"VM": 1})
        assert ambiguous.streams.error[0].fq_error == "AmbiguousParameter"
        assert "Possible matches include: -VMName -VMHost." in ambiguous.streams.error[0].exception.adapted_properties["Message"]


def test_loose_binding_passes_arguments_as_sent():
    srv = PsrpServer(password="pw", dispatcher=Dispatcher(strict_binding=False))
    seen = []
    srv.register("test.loose", lambda p, c: seen.append(p))
    with srv, RunspacePool(wsman_for(srv)) as pool:
        assert run(pool, script("test.loose", "Name"), {"name": "x", "Undeclared": 1}).state == PSInvocationState.COMPLETED
    assert seen == [{"name": "x", "Undeclared": 1}]


def test_marker_and_param_block_parsing():
    assert find_marker("\n  # op: scom.maintenance_start v2\r\nparam()") == ("scom.maintenance_start", 2)
    assert find_marker("#requires -Version 5\n# op: vmm.x v1") is None
    assert find_marker("Write-Output 1\n# op: vmm.x v1") is None
    text = """# op: vmm.vm_set v1
<# block comment with $NotAParam, #>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [ValidateSet('a,b', "c)d")] [string] $Name,   # trailing, comment $Nope
    [hashtable] $Props = @{ x = 1; y = $true },
    [Parameter(Mandatory = $false)] $Optional = "q,$(1)",
    [switch] $WhatIf
)
$Name
"""
    got = [(p.name, p.mandatory, p.switch) for p in declared_params(text)]
    assert got == [("Name", True, False), ("Props", False, False), ("Optional", False, False), ("WhatIf", False, True)]


def test_bad_credentials_are_refused(sim):
    with pytest.raises(AuthenticationError):
        RunspacePool(wsman_for(sim.srv, password="wrong")).open()
    assert sim.srv.stats()["unauthorized"] == 1 and sim.srv.stats()["shells_created"] == 0
    r = requests.post(sim.srv.url, data=b"<x/>", timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")


def test_concurrent_pipelines_on_one_pool_overlap(sim):
    def slow(params, ctx):
        started = time.monotonic()
        ctx.sleep(0.6)
        return [json.dumps({"tag": params["Tag"], "started": started})]

    sim.srv.register("test.slow", slow)
    with RunspacePool(wsman_for(sim.srv), max_runspaces=4) as pool:
        t0 = time.monotonic()
        shells = []
        for i in range(4):
            ps = PowerShell(pool)
            ps.add_script(script("test.slow", "Tag")).add_parameters({"Tag": i})
            ps.begin_invoke()
            shells.append(ps)
        results = [json.loads(ps.end_invoke()[0]) for ps in shells]
        elapsed = time.monotonic() - t0
    assert [r["tag"] for r in results] == [0, 1, 2, 3]
    assert elapsed < 1.5, f"4 x 0.6 s on 4 runspaces took {elapsed:.2f} s: pipelines did not overlap"
    assert max(r["started"] for r in results) - min(r["started"] for r in results) < 0.4


def test_pool_with_one_runspace_queues_pipelines(sim):
    sim.srv.register("test.slow", lambda p, c: [c.sleep(0.3)])
    with RunspacePool(wsman_for(sim.srv)) as pool:  # max_runspaces=1, pypsrp's default
        t0 = time.monotonic()
        shells = [PowerShell(pool) for _ in range(2)]
        for ps in shells:
            ps.add_script(script("test.slow"))
            ps.begin_invoke()
        for ps in shells:
            ps.end_invoke()
        assert time.monotonic() - t0 >= 0.55


def test_blocking_handler_does_not_block_another_pool(sim):
    release = threading.Event()
    sim.srv.register("test.block", lambda p, c: [release.wait(10)])
    with RunspacePool(wsman_for(sim.srv)) as slow_pool, RunspacePool(wsman_for(sim.srv)) as fast_pool:
        blocked = PowerShell(slow_pool)
        blocked.add_script(script("test.block"))
        blocked.begin_invoke()
        t0 = time.monotonic()
        assert run(fast_pool, script("vmm.vm_list")).state == PSInvocationState.COMPLETED
        assert time.monotonic() - t0 < 1
        release.set()
        assert blocked.end_invoke() == [True]


def test_stop_cancels_a_running_pipeline(sim):
    outcome = []
    sim.srv.register("test.wait", lambda p, c: outcome.append(c.sleep(20)))
    with RunspacePool(wsman_for(sim.srv)) as pool:
        ps = PowerShell(pool)
        ps.add_script(script("test.wait"))
        ps.begin_invoke()
        time.sleep(0.2)
        ps.stop()
        assert ps.state == PSInvocationState.STOPPED
        deadline = time.monotonic() + 5
        while not outcome and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outcome == [False]
        assert run(pool, script("vmm.vm_list")).state == PSInvocationState.COMPLETED


def test_pool_initialisation_op_and_session_state(sim):
    def connect(params, ctx):
        ctx.session["vmm_server"] = params["ComputerName"]
        return []

    def whoami(params, ctx):
        return [ctx.session.get("vmm_server", "not connected")]

    sim.srv.register("vmm.connect", connect)
    sim.srv.register("vmm.whoami", whoami)
    with RunspacePool(wsman_for(sim.srv)) as pool, RunspacePool(wsman_for(sim.srv)) as other:
        run(pool, script("vmm.connect", "ComputerName"), {"ComputerName": "vmm01.lab"})
        assert run(pool, script("vmm.whoami")).output == ["vmm01.lab"]
        assert run(other, script("vmm.whoami")).output == ["not connected"]


def test_large_output_is_fragmented_and_chunked(sim):
    vms = [{"ID": str(uuid.UUID(int=i)), "Name": f"vm{i:05d}", "Status": "Running", "HostName": f"hv{i % 40:02d}",
            "CustomProperties": {"Owner": "team-" + str(i % 7), "Notes": "n" * 500}} for i in range(5000)]
    payload = json.dumps(vms)
    assert len(payload) > 3_000_000
    sim.srv.register("vmm.vm_list", lambda p, c: [payload], replace=True)
    with RunspacePool(wsman_for(sim.srv)) as pool:
        sim.srv.reset_stats()
        ps = run(pool, script("vmm.vm_list"))
    assert ps.output == [payload]
    stats = sim.srv.stats()
    # 32 KiB PSRP fragments, several per Receive, every answer within pypsrp's 512000-byte MaxEnvelopeSize
    assert 3_000_000 / 512_000 < stats["requests_by_action"]["Receive"] < 40
    assert 400_000 < stats["largest_response"] <= 512_000


@pytest.mark.parametrize("envelope", [51200, 16384])
def test_small_max_envelope_size_is_respected(sim, envelope):
    payload = "y" * 300_000
    sim.srv.register("test.big", lambda p, c: [payload])
    with RunspacePool(wsman_for(sim.srv, max_envelope_size=envelope)) as pool:
        assert run(pool, script("test.big")).output == [payload]
    # below 32 KiB fragments no longer fit: the server cuts smaller ones
    assert sim.srv.stats()["largest_response"] <= envelope


def test_wsman_faults_look_like_windows(sim):
    conn = wsman_for(sim.srv)
    selectors = SelectorSet()
    selectors.add_option("ShellId", str(uuid.uuid4()).upper())
    with pytest.raises(WSManFaultError) as exc:
        conn.delete(POWERSHELL_URI, selector_set=selectors)
    assert exc.value.code == 2150858843 and "shell was not found on the server" in exc.value.reason
    with RunspacePool(conn) as pool:
        with pytest.raises(WSManFaultError) as exc:
            pool.shell.receive("stdout", command_id=str(uuid.uuid4()).upper())
        assert exc.value.code == 2150858843 and "command identifier that does not exist" in exc.value.reason
        sim.srv.register("test.slow", lambda p, c: [c.sleep(3)])
        ps = PowerShell(pool)
        ps.add_script(script("test.slow"))
        ps.begin_invoke()
        with pytest.raises(WSManFaultError) as exc:
            pool.shell.receive("stdout", command_id=ps._command_id, timeout=1)
        assert exc.value.code == 2150858793  # w:TimedOut, which pypsrp's poll_invoke retries
        ps.poll_invoke(timeout=1)
        assert ps.state == PSInvocationState.RUNNING
        ps.stop()
    with pytest.raises(WSManFaultError) as exc:
        RunspacePool(wsman_for(sim.srv), configuration_name="Microsoft.Exchange").open()
    assert exc.value.code == 2150858770 and "Microsoft.Exchange session configuration" in exc.value.reason
    conn.update_max_payload_size()
    assert conn.max_envelope_size == 512000
    with pytest.raises(WSManFaultError) as exc:
        RunspacePool.get_runspace_pools(conn)  # WS-Enumeration of shells is not simulated
    assert exc.value.code == 2150858771


def test_dropped_connection_surfaces_as_connection_error(sim):
    with RunspacePool(wsman_for(sim.srv)) as pool:
        sim.srv.drop(count=1, action="Command")
        with pytest.raises(requests.exceptions.ConnectionError):
            run(pool, script("vmm.vm_list"))
        assert sim.srv.stats()["pipelines"] == 0  # dropped before it was processed
        assert run(pool, script("vmm.vm_list")).state == PSInvocationState.COMPLETED

        sim.srv.drop(count=1, action="Command", when="after")  # the pipeline runs, its answer is lost
        with pytest.raises(requests.exceptions.ConnectionError):
            run(pool, script("test.echo", "Tag"), {"Tag": "lost-answer"})
        deadline = time.monotonic() + 5
        while not any(c[1].get("Tag") == "lost-answer" for c in sim.calls) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sim.calls[-1][1] == {"Tag": "lost-answer"}
    assert sim.srv.stats()["dropped"] == 2


def test_delay_and_http_error_injection(sim):
    with RunspacePool(wsman_for(sim.srv)) as pool:
        sim.srv.delay(0.4, count=1, action="Command")
        t0 = time.monotonic()
        run(pool, script("vmm.vm_list"))
        assert time.monotonic() - t0 >= 0.4
        sim.srv.http_error(503, count=1, action="Command")
        with pytest.raises(WinRMTransportError) as exc:
            run(pool, script("vmm.vm_list"))
        assert exc.value.code == 503


def test_fail_next_invocation_of_an_operation(sim):
    sim.srv.fail_next("vmm.vm_list", PowerShellError("Unable to connect to the VMM server.", "1600,Connect",
                                                     "ConnectionError"), count=1)
    with RunspacePool(wsman_for(sim.srv)) as pool:
        first = run(pool, script("vmm.vm_list"))
        second = run(pool, script("vmm.vm_list"))
    assert first.state == PSInvocationState.FAILED and first.streams.error[0].fq_error == "1600,Connect"
    assert second.state == PSInvocationState.COMPLETED
    assert [p.state for p in sim.srv.pipelines] == ["Failed", "Completed"]


def test_journal_counts_pipelines_and_requests(sim):
    with RunspacePool(wsman_for(sim.srv)) as pool:
        sim.srv.reset_stats()
        run(pool, script("test.echo", "Names"), {"Names": [f"vm{i}" for i in range(200)]})
    stats = sim.srv.stats()
    assert stats["pipelines"] == 1 and stats["pipelines_by_op"] == {"test.echo": 1}
    assert stats["requests_by_action"]["Command"] == 1
    record = sim.srv.pipelines[0]
    assert record.op == "test.echo" and record.version == 1 and record.username == "vmops"
    assert record.params["Names"][-1] == "vm199" and record.seconds is not None


def test_control_api_over_http(sim):
    base = f"http://{sim.srv.host}:{sim.srv.port}/_sim"
    fault = {"kind": "fail_op", "op": "vmm.vm_list", "message": "injected", "error_id": "X1", "category": "ResourceBusy"}
    req = urllib.request.Request(base + "/faults", data=json.dumps(fault).encode(), method="POST")
    assert json.load(urllib.request.urlopen(req, timeout=5))["op"] == "vmm.vm_list"
    with RunspacePool(wsman_for(sim.srv)) as pool:
        assert run(pool, script("vmm.vm_list")).streams.error[0].fq_error == "X1"
    stats = json.load(urllib.request.urlopen(base + "/stats", timeout=5))
    assert stats["pipelines"] == 1
    pipelines = json.load(urllib.request.urlopen(base + "/pipelines", timeout=5))
    assert pipelines[0]["op"] == "vmm.vm_list" and pipelines[0]["state"] == "Failed"


def test_dispatcher_rejects_double_registration():
    d = Dispatcher()
    d.register("vmm.a", lambda p, c: [])
    with pytest.raises(ValueError):
        d.register("vmm.a", lambda p, c: [])
    with pytest.raises(ValueError):
        PowerShellError("x", "y", category="NoSuchCategory")


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_stop_releases_threads_and_sockets():
    before = set(threading.enumerate())
    outcome = []
    srv = PsrpServer(password="pw")
    srv.register("test.wait", lambda p, c: outcome.append(c.sleep(30)))
    srv.start()
    port = srv.port
    pool = RunspacePool(wsman_for(srv), max_runspaces=2)
    pool.open()
    ps = PowerShell(pool)
    ps.add_script(script("test.wait"))
    ps.begin_invoke()  # a pipeline left running and an idle keep-alive connection
    idle = socket.create_connection(("127.0.0.1", port))
    time.sleep(0.1)
    t0 = time.monotonic()
    srv.stop()
    assert time.monotonic() - t0 < 5
    assert outcome == [False]  # the handler saw the cancellation
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []
    assert _refused(port)
    assert idle.recv(1) == b""  # the server closed its end
    idle.close()
    pool.connection.close()
