# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VMM, SCOM and ConfigMgr operation catalogues: snapshots of the script texts and a static check.

No PowerShell runs here (nor in the simulator), so the scripts are pinned two ways:

* snapshots under ``snapshots/ps/<op>.ps1``: a changed script is a reviewed diff
  (``VMOPS_UPDATE_SNAPSHOTS=1`` rewrites them);
* a parse with the tree-sitter PowerShell grammar: no syntax errors, the marker names its own
  key, a param block, only allow-listed cmdlets with allow-listed parameters (the cmdlet syntax
  in the VMM/SCOM API research notes and the ConfigurationManager cmdlet help), no positional arguments to cmdlets, VMM writes always as
  jobs, nothing that turns text into code, no local variable that shadows a parameter
  (PowerShell names are case-insensitive), and a single ``ConvertTo-Json`` answer at the end.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from ansible_collections.vmops.datacenter.plugins.module_utils import _configmgr_ops, _scom_ops, _vmm_ops

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "ps"
CATALOGUES = {"vmm": _vmm_ops, "scom": _scom_ops, "configmgr": _configmgr_ops}
ALL = {**_vmm_ops.OPERATIONS, **_scom_ops.OPERATIONS, **_configmgr_ops.OPERATIONS}
UPDATE = os.environ.get("VMOPS_UPDATE_SNAPSHOTS") == "1"

SWITCH, VALUE = "switch", "value"
_JOB = {"RunAsynchronously": SWITCH, "JobVariable": VALUE}

# Cmdlet -> parameter -> switch|value. Sections refer to the VMM/SCOM API research notes.
ALLOWED = {
    # --- VirtualMachineManager ---------------------------------------------------------------
    # §2.1 (intro: connect with Get-SCVMMServer -ComputerName [-Credential]); §2.4 (explicit
    # -Credential for the jump-box topology).
    "Get-SCVMMServer": {"ComputerName": VALUE, "Credential": VALUE},
    # §2.1 "List/find VMs": Get-SCVirtualMachine [-Name] [-ID] [-VMHost] [-All] [-VMMServer].
    "Get-SCVirtualMachine": {"Name": VALUE, "ID": VALUE, "VMHost": VALUE, "All": SWITCH, "VMMServer": VALUE},
    # §2.1 "Start": Start-SCVirtualMachine -VM [-RunAsynchronously] [-JobVariable].
    "Start-SCVirtualMachine": {"VM": VALUE, **_JOB},
    # §2.1 "Stop": exactly one of -Shutdown/-Force/-SaveState/-DiscardSavedState; jobs (§2.1 intro).
    "Stop-SCVirtualMachine": {"VM": VALUE, "Shutdown": SWITCH, "Force": SWITCH, "SaveState": SWITCH,
                              "DiscardSavedState": SWITCH, **_JOB},
    # §2.1 "Stop" notes (Suspend-SCVirtualMachine exists) and "Start" notes (Resume-SCVirtualMachine
    # for a paused VM); -VM and the job parameters as on every VM write cmdlet (§2.1 intro).
    "Suspend-SCVirtualMachine": {"VM": VALUE, **_JOB},
    "Resume-SCVirtualMachine": {"VM": VALUE, **_JOB},
    # §2.1 "Create checkpoint": New-SCVMCheckpoint -VM -Name [-Description]; jobs (§2.1 intro).
    "New-SCVMCheckpoint": {"VM": VALUE, "Name": VALUE, "Description": VALUE, **_JOB},
    # §2.1 "List checkpoints": Get-SCVMCheckpoint -VM [-MostRecent]; -VMMServer on Get-* (§2.1 intro).
    "Get-SCVMCheckpoint": {"VM": VALUE, "MostRecent": SWITCH, "VMMServer": VALUE},
    # §2.1 "Restore": Restore-SCVMCheckpoint -VMCheckpoint; jobs (§2.1 intro).
    "Restore-SCVMCheckpoint": {"VMCheckpoint": VALUE, **_JOB},
    # §2.1 "Delete": Remove-SCVMCheckpoint -VMCheckpoint [-Confirm:$false]; jobs (§2.1 intro).
    "Remove-SCVMCheckpoint": {"VMCheckpoint": VALUE, "Confirm": SWITCH, **_JOB},
    # §2.1 "Host maintenance ON": Disable-SCVMHost -VMHost [-MoveWithinCluster] [-RunAsynchronously] [-JobVariable].
    "Disable-SCVMHost": {"VMHost": VALUE, "MoveWithinCluster": SWITCH, **_JOB},
    # §2.1 "Host maintenance OFF": Enable-SCVMHost -VMHost; jobs (§2.1 intro).
    "Enable-SCVMHost": {"VMHost": VALUE, **_JOB},
    # Move-SCVirtualMachine -VM -VMHost [-Path] [-HighlyAvailable] [-UseLAN] [-RunAsynchronously] [-JobVariable]
    # (cmdlet help, VirtualMachineManager module); within a cluster only -VM, -VMHost and the job parameters.
    "Move-SCVirtualMachine": {"VM": VALUE, "VMHost": VALUE, **_JOB},
    # §2.1 "Host facts": Get-SCVMHost [-ComputerName] [-VMHostCluster], Get-SCVMHostCluster [-Name].
    "Get-SCVMHost": {"ComputerName": VALUE, "VMHostCluster": VALUE, "VMMServer": VALUE},
    "Get-SCVMHostCluster": {"Name": VALUE, "VMMServer": VALUE},
    # Update compliance (cmdlet help, SystemCenter2016 VirtualMachineManager): Get-SCBaseline -Name
    # [-VMMServer]; Get-SCComplianceStatus -VMMManagedComputer; Start-SCComplianceScan
    # -VMMManagedComputer [-Baseline]; Start-SCUpdateRemediation -VMMManagedComputer [-Baseline]
    # [-SuspendReboot] (parameter set VMMManagedComputer); both write cmdlets as jobs.
    "Get-SCBaseline": {"Name": VALUE, "VMMServer": VALUE},
    "Get-SCComplianceStatus": {"VMMManagedComputer": VALUE},
    "Start-SCComplianceScan": {"VMMManagedComputer": VALUE, "Baseline": VALUE, **_JOB},
    "Start-SCUpdateRemediation": {"VMMManagedComputer": VALUE, "Baseline": VALUE, "SuspendReboot": SWITCH, **_JOB},
    # §2.1 "Jobs": Get-SCJob -ID <guid> / -Running / -Newest n.
    "Get-SCJob": {"ID": VALUE, "Running": SWITCH, "Newest": VALUE, "VMMServer": VALUE},
    # --- OperationsManager -------------------------------------------------------------------
    # §4.1 "Find the object": Get-SCOMClass -Name ... | Get-SCOMClassInstance (or -Name <fqdn>).
    "Get-SCOMClass": {"Name": VALUE},
    "Get-SCOMClassInstance": {"Name": VALUE},
    # §4.1 "Start": Start-SCOMMaintenanceMode -Instance -EndTime [-Comment] [-Reason] [-PassThru].
    "Start-SCOMMaintenanceMode": {"Instance": VALUE, "EndTime": VALUE, "Comment": VALUE, "Reason": VALUE,
                                  "PassThru": SWITCH},
    # §4.1 "Read": Get-SCOMMaintenanceMode [-Instance] [-History].
    "Get-SCOMMaintenanceMode": {"Instance": VALUE, "History": SWITCH},
    # §4.1 "Update/extend/end": Set-SCOMMaintenanceMode -MaintenanceModeEntry -EndTime [-Comment] [-Reason].
    "Set-SCOMMaintenanceMode": {"MaintenanceModeEntry": VALUE, "EndTime": VALUE, "Comment": VALUE, "Reason": VALUE},
    # §6.2 item 3 names the connect step but not its syntax; the parameters are the cmdlet help's:
    # New-SCOMManagementGroupConnection [[-ComputerName] <String[]>] [[-Credential] <PSCredential>] [-PassThru].
    "New-SCOMManagementGroupConnection": {"ComputerName": VALUE, "Credential": VALUE, "PassThru": SWITCH},
    # --- ConfigurationManager (cmdlet help, sccm-docs-powershell-ref) ---------------------------
    # §5 "Software-update deployments": New-CMSoftwareUpdateDeployment, parameter set
    # DeploySoftwareUpdateGroupById, with the schedule, notification and restart parameters used.
    "New-CMSoftwareUpdateDeployment": {
        "SoftwareUpdateGroupId": VALUE, "CollectionId": VALUE, "DeploymentName": VALUE, "DeploymentType": VALUE,
        "TimeBasedOn": VALUE, "AvailableDateTime": VALUE, "DeadlineDateTime": VALUE, "UserNotification": VALUE,
        "RestartServer": VALUE, "AllowRestart": VALUE, "SoftwareInstallation": VALUE, "AcceptEula": SWITCH},
    # Get-CMSoftwareUpdateDeployment -DeploymentId (alias AssignmentUniqueID), parameter set SearchByDeploymentId.
    "Get-CMSoftwareUpdateDeployment": {"DeploymentId": VALUE},
    # Remove-CMSoftwareUpdateDeployment -InputObject [-Force], parameter set SearchByValue.
    "Remove-CMSoftwareUpdateDeployment": {"InputObject": VALUE, "Force": SWITCH},
    # The site drive the ConfigMgr cmdlets run from (the console's "Connect via Windows PowerShell" script).
    "Get-PSDrive": {"Name": VALUE, "PSProvider": VALUE, "ErrorAction": VALUE},
    "New-PSDrive": {"Name": VALUE, "PSProvider": VALUE, "Root": VALUE},
    "Set-Location": {"Path": VALUE},
    # --- Windows PowerShell 5.1 core ---------------------------------------------------------
    # §6.2 item 3: the runspace pool imports the product module once.
    "Import-Module": {"Name": VALUE},
    # §2.2 items 3-4: one JSON answer, explicit -Depth; §3 (microsoft.hyperv: -Compress).
    "ConvertTo-Json": {"InputObject": VALUE, "Depth": VALUE, "Compress": SWITCH},
    # §2.1 "Filter by custom property": filter with Where-Object (script block only).
    "Where-Object": {},
    # Oldest checkpoint first (§2.1 "List checkpoints": AddedTime).
    "Sort-Object": {"Property": VALUE},
    # §6.2 item 4: poll Get-SCJob with a timeout.
    "Start-Sleep": {"Milliseconds": VALUE},
}
# Cmdlets that take a positional argument here: Where-Object's filter script block.
POSITIONAL = {"Where-Object": 1}
# VMM writes always run as jobs (§2.1 intro, §6.2 item 4).
JOB_CMDLETS = {"Start-SCVirtualMachine", "Stop-SCVirtualMachine", "Suspend-SCVirtualMachine",
               "Resume-SCVirtualMachine", "New-SCVMCheckpoint", "Restore-SCVMCheckpoint",
               "Remove-SCVMCheckpoint", "Disable-SCVMHost", "Enable-SCVMHost",
               "Move-SCVirtualMachine", "Start-SCComplianceScan", "Start-SCUpdateRemediation"}
FORBIDDEN_TYPES = {"scriptblock", "system.management.automation.scriptblock", "powershell",
                   "system.management.automation.powershell"}
FORBIDDEN_VARIABLES = {"$executioncontext"}

_ALLOWED_LOWER = {k.lower(): (k, {p.lower(): (p, kind) for p, kind in v.items()}) for k, v in ALLOWED.items()}
MARKER = re.compile(r"^# op: (?P<name>[a-z]+\.[a-z_]+) v(?P<version>\d+)$")


# -- snapshots and plain-text structure (run everywhere) ------------------------------------

@pytest.mark.parametrize("name", sorted(ALL))
def test_script_matches_its_snapshot(name):
    path = SNAPSHOTS / f"{name}.ps1"
    text = ALL[name]
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.exists(), f"no snapshot for {name}: run with VMOPS_UPDATE_SNAPSHOTS=1 and review the new file"
    assert path.read_text(encoding="utf-8") == text, (
        f"{name} differs from {path.name}: review the change, then run with VMOPS_UPDATE_SNAPSHOTS=1")


def test_every_snapshot_belongs_to_an_operation():
    if UPDATE:
        for path in SNAPSHOTS.glob("*.ps1"):
            if path.stem not in ALL:
                path.unlink()
    assert sorted(p.stem for p in SNAPSHOTS.glob("*.ps1")) == sorted(ALL)


@pytest.mark.parametrize("product", sorted(CATALOGUES))
def test_catalogue_keys_markers_and_answer(product):
    module = CATALOGUES[product]
    for name, text in module.OPERATIONS.items():
        first, second = text.splitlines()[:2]
        m = MARKER.match(first)
        assert m, f"{name}: first line {first!r}"
        assert m.group("name") == name and name.startswith(product + ".")
        assert int(m.group("version")) == module.VERSION
        assert second == "param(", f"{name}: the param block follows the marker"
        assert "<<" not in text and ">>" not in text, f"{name}: unrendered token"
        last = text.rstrip("\n").splitlines()[-1]
        assert last.startswith("ConvertTo-Json -InputObject ") and last.endswith(" -Depth 6 -Compress"), name
        assert text.endswith("\n") and "\t" not in text and not re.search(r"[ \t]+$", text, re.M), name


def test_script_texts_carry_the_messages_the_simulator_repeats():
    v, s = _vmm_ops, _scom_ops
    quoted = "'{}'".format
    assert quoted(v.NOT_CONNECTED) in v.VM_LIST
    assert all(quoted(v.NOT_CONNECTED) in t for n, t in v.OPERATIONS.items() if n != "vmm.connect")
    assert quoted(v.VM_NOT_FOUND) in v.VM_POWER and quoted(v.VM_NOT_FOUND) in v.CHECKPOINT_NEW
    assert quoted(v.CHECKPOINT_NOT_FOUND) in v.CHECKPOINT_RESTORE and quoted(v.CHECKPOINT_NOT_FOUND) in v.CHECKPOINT_REMOVE
    assert quoted(v.HOST_NOT_FOUND) in v.HOST_MAINTENANCE
    for text in (v.COMPLIANCE_LIST, v.COMPLIANCE_SCAN, v.UPDATE_REMEDIATE):
        assert quoted(v.HOST_NOT_FOUND) in text and quoted(v.BASELINE_NOT_FOUND) in text
    assert quoted(v.JOB_NOT_FOUND) in v.JOB_WAIT and quoted(v.JOB_NOT_FOUND_STATUS) in v.JOB_LIST
    assert "ValidateSet('start', 'stop', 'shutdown', 'save', 'suspend', 'resume')" in v.VM_POWER
    assert all(quoted(s.NOT_CONNECTED) in t for n, t in s.OPERATIONS.items() if n != "scom.connect")
    for text in (s.MAINTENANCE_START, s.MAINTENANCE_UPDATE, s.MAINTENANCE_STOP):
        assert quoted(s.OBJECT_NOT_FOUND) in text
    assert quoted(s.ALREADY_IN_MAINTENANCE) in s.MAINTENANCE_START
    assert quoted(s.NOT_IN_MAINTENANCE) in s.MAINTENANCE_UPDATE
    assert quoted(s.END_TIME_NOT_FUTURE) in s.MAINTENANCE_START and quoted(s.END_TIME_NOT_FUTURE) in s.MAINTENANCE_UPDATE
    assert "ValidateSet(" + ", ".join(map(quoted, s.REASONS)) + ")" in s.MAINTENANCE_START
    c = _configmgr_ops
    assert all(quoted(c.NOT_CONNECTED) in t for n, t in c.OPERATIONS.items() if n != "configmgr.connect")
    assert quoted(c.CONSOLE_MISSING) in c.CONNECT and quoted(c.SITE_UNKNOWN) in c.CONNECT
    assert "Import-Module -Name ($env:SMS_ADMIN_UI_PATH + '\\..\\ConfigurationManager.psd1')" in c.CONNECT
    assert "Set-Location -Path ($site + ':')" in c.CONNECT
    assert "ValidateSet(" + ", ".join(map(quoted, c.USER_NOTIFICATIONS)) + ")" in c.UPDATE_DEPLOYMENT_NEW


# -- static check with the tree-sitter PowerShell grammar -------------------------------------

def _parser():
    tsp = pytest.importorskip("tree_sitter_powershell")
    tree_sitter = pytest.importorskip("tree_sitter")
    return tree_sitter.Parser(tree_sitter.Language(tsp.language()))


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _text(node) -> str:
    return node.text.decode("utf-8")


def _variable_name(node) -> str:
    return _text(node).lstrip("$").split(":")[-1].lower()


def check_script(parser, name: str, text: str) -> list[str]:
    """Everything wrong with one catalogue script, as readable findings (empty when clean)."""
    problems: list[str] = []
    root = parser.parse(text.encode("utf-8")).root_node

    def where(node) -> str:
        return f"{name}:{node.start_point[0] + 1}"

    for node in _walk(root):
        if node.type == "ERROR" or node.is_missing:
            problems.append(f"{where(node)}: syntax error near {_text(node)[:40]!r}")

    top = list(root.children)
    if not top or top[0].type != "comment" or not (m := MARKER.match(_text(top[0]))) or m.group("name") != name:
        problems.append(f"{name}: the first line must be the marker '# op: {name} v<N>'")
    blocks = [c for c in top if c.type == "param_block"]
    if not blocks:
        problems.append(f"{name}: no param block")
        params = set()
    else:
        params = {_variable_name(v) for p in _walk(blocks[0]) if p.type == "script_parameter"
                  for v in p.children if v.type == "variable"}

    functions = {_text(f).lower() for n in _walk(root) if n.type == "function_statement"
                 for f in n.children if f.type == "function_name"}

    for node in _walk(root):
        if node.type == "command":
            problems += _check_command(node, functions, where)
        elif node.type == "expandable_string_literal" and ("$" in _text(node)):
            problems.append(f"{where(node)}: expandable string with a variable or subexpression {_text(node)!r}")
        elif node.type in ("expandable_here_string_literal",):
            problems.append(f"{where(node)}: expandable here-string")
        elif node.type == "type_literal":
            type_name = _text(node).strip("[]").strip().lower()
            if type_name in FORBIDDEN_TYPES:
                problems.append(f"{where(node)}: [{type_name}] builds code from text")
        elif node.type == "variable" and _text(node).lower() in FORBIDDEN_VARIABLES:
            problems.append(f"{where(node)}: {_text(node)} reaches the script engine")
        # A local that reuses a parameter's name (in any case) silently overwrites it.
        assigned = []
        if node.type == "left_assignment_expression":
            target = node
            while target.type != "variable" and target.named_child_count == 1:
                target = target.named_children[0]
            assigned = [target] if target.type == "variable" else []
        elif node.type == "foreach_statement":
            assigned = [c for c in node.children if c.type == "variable"][:1]
        elif node.type == "function_statement":
            assigned = [v for p in _walk(node) if p.type == "script_parameter" for v in p.children if v.type == "variable"]
        for var in assigned:
            if ":" not in _text(var) and _variable_name(var) in params:
                problems.append(f"{where(var)}: {_text(var)} shadows the parameter of the same name")

    statements = [c for c in top if c.type == "statement_list"]
    last = statements[-1].named_children[-1] if statements and statements[-1].named_children else None
    last_commands = [n for n in _walk(last) if n.type == "command"] if last is not None else []
    if not last_commands or _command_name(last_commands[0]).lower() != "convertto-json":
        problems.append(f"{name}: the last statement must be the ConvertTo-Json answer")
    return problems


def _command_name(node) -> str:
    for child in node.children:
        if child.type in ("command_name", "command_name_expr"):
            return _text(child)
    return ""


def _check_command(node, functions, where) -> list[str]:
    problems = []
    if any(c.type == "command_invokation_operator" for c in node.children):
        return [f"{where(node)}: '&' or '.' invocation of {_command_name(node)!r}"]
    name = _command_name(node)
    if name.lower() in functions:
        return []
    entry = _ALLOWED_LOWER.get(name.lower())
    if entry is None:
        return [f"{where(node)}: command {name!r} is not allow-listed"]
    canonical, allowed = entry
    if name != canonical:
        problems.append(f"{where(node)}: write {canonical!r}, not {name!r}")
    used, positional, expects_value, colon = set(), 0, False, False
    for element in [e for c in node.children if c.type == "command_elements" for e in c.children]:
        if element.type == "command_argument_sep":
            colon = colon or _text(element).strip() == ":"
            continue
        if element.type == "command_parameter":
            pname = _text(element).lstrip("-").rstrip(":")
            hit = allowed.get(pname.lower())
            if hit is None:
                problems.append(f"{where(element)}: {canonical} has no allow-listed parameter -{pname}")
                expects_value = False
                continue
            used.add(hit[0])
            expects_value = hit[1] == VALUE
            colon = False
            continue
        if colon or expects_value:
            colon = expects_value = False
            continue
        positional += 1
    if positional > POSITIONAL.get(canonical, 0):
        problems.append(f"{where(node)}: positional argument to {canonical}")
    if canonical in JOB_CMDLETS and not {"RunAsynchronously", "JobVariable"} <= used:
        problems.append(f"{where(node)}: {canonical} must run as a job (-RunAsynchronously -JobVariable)")
    return problems


@pytest.mark.parametrize("name", sorted(ALL))
def test_script_passes_the_static_check(name):
    parser = _parser()
    assert check_script(parser, name, ALL[name]) == []


BAD = {
    "syntax": ("if ($x {", "syntax error"),
    "iex": ("Invoke-Expression -Command $Name", "'Invoke-Expression' is not allow-listed"),
    "iex alias": ("iex $Name", "'iex' is not allow-listed"),
    "call string": ("& 'Get-SCJob'", "invocation"),
    "call variable": ("& $Name", "invocation"),
    "dot source": (". $Name", "invocation"),
    "scriptblock": ("$b = [scriptblock]::Create($Name)", "[scriptblock]"),
    "interpolation": ('Get-SCVirtualMachine -Name "vm-$Name"', "expandable string"),
    "subexpression": ('Get-SCJob -ID "$($Name)"', "expandable string"),
    "unknown cmdlet": ("Remove-SCVirtualMachine -VM $vm", "'Remove-SCVirtualMachine' is not allow-listed"),
    "unknown parameter": ("Get-SCJob -All", "no allow-listed parameter -All"),
    "positional": ("Get-SCVirtualMachine $Name", "positional argument"),
    "not a job": ("Start-SCVirtualMachine -VM $vm", "must run as a job"),
    "engine": ("$ExecutionContext.InvokeCommand.InvokeScript($Name)", "script engine"),
    "shadow": ("$name = 'x'", "shadows the parameter"),
    "shadow loop": ("foreach ($NAME in @()) { }", "shadows the parameter"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_static_check_finds_each_kind_of_problem(case):
    parser = _parser()
    body, expected = BAD[case]
    text = "# op: vmm.bad v1\nparam(\n    [string] $Name\n)\n" + body + "\nConvertTo-Json -InputObject @() -Depth 6 -Compress\n"
    problems = check_script(parser, "vmm.bad", text)
    assert any(expected in p for p in problems), (case, problems)


def test_static_check_wants_marker_param_block_and_answer():
    parser = _parser()
    assert any("marker" in p for p in check_script(parser, "vmm.other", ALL["vmm.job_list"]))
    no_params = "# op: vmm.x v1\nConvertTo-Json -InputObject @() -Depth 6 -Compress\n"
    assert any("param block" in p for p in check_script(parser, "vmm.x", no_params))
    no_answer = "# op: vmm.x v1\nparam()\nGet-SCJob -Running\n"
    assert any("ConvertTo-Json" in p for p in check_script(parser, "vmm.x", no_answer))
