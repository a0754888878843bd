# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SCOM operation catalogue: one named PowerShell script per domain method.

Same conventions as the VMM catalogue (``_vmm_ops``): a marker line, a ``param()`` block,
arguments as PSRP parameters, one JSON string out (``ConvertTo-Json -Depth 6 -Compress``).
``scom.connect`` runs once per runspace pool (the OperationsManager module keeps the active
management group connection in the session).

Monitoring objects are the instances of one class (``Microsoft.Windows.Computer`` by default:
a VM's guest and a Hyper-V host are both Windows computers, and other classes share their
display names). Every script reports objects in one shape::

    {"id", "display_name", "in_maintenance",
     "maintenance": null | {"start_time", "end_time", "reason", "comment", "user"}, "error"}

plus ``error: null | {id, message}``, set when the maintenance scripts could not act on a
requested object. Times in and out are ISO-8601 UTC strings.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

VERSION = 1

DEFAULT_CLASS = "Microsoft.Windows.Computer"

# MaintenanceModeReason members (OperationsManager SDK).
REASONS = (
    "PlannedOther",
    "UnplannedOther",
    "PlannedHardwareMaintenance",
    "UnplannedHardwareMaintenance",
    "PlannedHardwareInstallation",
    "UnplannedHardwareInstallation",
    "PlannedOperatingSystemReconfiguration",
    "UnplannedOperatingSystemReconfiguration",
    "PlannedApplicationMaintenance",
    "ApplicationInstallation",
    "ApplicationUnresponsive",
    "ApplicationUnstable",
    "SecurityIssue",
    "LossOfNetworkConnectivity",
)
DEFAULT_REASON = "PlannedOther"

# Texts the scripts themselves write (the simulator answers with the same ones).
NOT_CONNECTED = "Not connected to a SCOM management group: run scom.connect in this runspace first."
OBJECT_NOT_FOUND = "The monitoring object was not found."
ALREADY_IN_MAINTENANCE = "The monitoring object is already in maintenance mode."
NOT_IN_MAINTENANCE = "The monitoring object is not in maintenance mode."
END_TIME_NOT_FUTURE = "EndTime must be later than the current time."


def _ps_literal(text):
    return "'" + text.replace("'", "''") + "'"


_TOKENS = {
    "NOT_CONNECTED": _ps_literal(NOT_CONNECTED),
    "OBJECT_NOT_FOUND": _ps_literal(OBJECT_NOT_FOUND),
    "ALREADY_IN_MAINTENANCE": _ps_literal(ALREADY_IN_MAINTENANCE),
    "NOT_IN_MAINTENANCE": _ps_literal(NOT_IN_MAINTENANCE),
    "END_TIME_NOT_FUTURE": _ps_literal(END_TIME_NOT_FUTURE),
    "DEFAULT_CLASS": _ps_literal(DEFAULT_CLASS),
    "DEFAULT_REASON": _ps_literal(DEFAULT_REASON),
    "REASONS": ", ".join(_ps_literal(r) for r in REASONS),
}


def _render(name, text):
    """Marker line + script text with the <<TOKEN>> constants above filled in."""
    for key, value in _TOKENS.items():
        text = text.replace("<<" + key + ">>", value)
    if "<<" in text:
        raise ValueError("unknown token in " + name)
    return "# op: %s v%d\n%s" % (name, VERSION, text.lstrip("\n"))


_CONNECTED = """
$ErrorActionPreference = 'Stop'
if (-not $global:ScomConnected) { throw <<NOT_CONNECTED>> }
"""

_TIME = """
function ConvertTo-OpTime($Value) {
    if ($null -eq $Value) { return $null }
    ([datetime]$Value).ToUniversalTime().ToString('o')
}
"""

# The active maintenance window is read fresh (an instance's InMaintenanceMode is a snapshot
# taken when it was fetched).
_OBJECT = """
function Get-OpWindow($Instance) {
    $entries = @(Get-SCOMMaintenanceMode -Instance $Instance)
    if ($entries.Count -eq 0) { return $null }
    $entries[0]
}

function ConvertTo-OpObject($Instance, $Entry, $Failure) {
    $window = $null
    if ($null -ne $Entry) {
        $window = [pscustomobject]@{
            start_time = ConvertTo-OpTime $Entry.StartTime
            end_time = ConvertTo-OpTime $Entry.ScheduledEndTime
            reason = $Entry.Reason.ToString()
            comment = [string]$Entry.Comments
            user = [string]$Entry.User
        }
    }
    [pscustomobject]@{
        id = $Instance.Id.ToString()
        display_name = $Instance.DisplayName
        in_maintenance = ($null -ne $Entry)
        maintenance = $window
        error = $Failure
    }
}
"""

_INSTANCES = """
$instances = @{}
foreach ($instance in @(Get-SCOMClass -Name $ClassName | Get-SCOMClassInstance)) {
    $instances[$instance.Id.ToString()] = $instance
}
"""

_END_TIME = """
$end = [datetime]::Parse($EndTime, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::RoundtripKind).ToUniversalTime()
if ($end -le [datetime]::UtcNow) { throw <<END_TIME_NOT_FUTURE>> }
"""

_ERROR = """
function ConvertTo-OpError($Record) {
    [pscustomobject]@{ id = $null; message = $Record.Exception.Message }
}
"""

_MISSING = """        [pscustomobject]@{
            id = $objectId.ToString()
            display_name = $null
            in_maintenance = $false
            maintenance = $null
            error = [pscustomobject]@{ id = $null; message = <<OBJECT_NOT_FOUND>> }
        }"""


def _for_each_object(action):
    """The maintenance scripts' loop: look each requested object up, act on it, report it in one shape."""
    return """$results = @(foreach ($objectId in $Id) {
    $instance = $instances[$objectId.ToString()]
    if ($null -eq $instance) {
""" + _MISSING + """
        continue
    }
    $failure = $null
    try {
""" + action.lstrip("\n") + """    } catch {
        $failure = ConvertTo-OpError $_
    }
    ConvertTo-OpObject $instance (Get-OpWindow $instance) $failure
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
"""


CONNECT = _render("scom.connect", """
param(
    [string] $Server = 'localhost',
    [string] $UserName,
    [securestring] $Password
)
$ErrorActionPreference = 'Stop'
Import-Module -Name OperationsManager
if ($UserName) {
    $credential = [pscredential]::new($UserName, $Password)
    $connection = New-SCOMManagementGroupConnection -ComputerName $Server -Credential $credential -PassThru
} else {
    $connection = New-SCOMManagementGroupConnection -ComputerName $Server -PassThru
}
$global:ScomConnected = $true
$result = [pscustomobject]@{
    server = $Server
    management_group = [string]@($connection)[0].ManagementGroupName
}
ConvertTo-Json -InputObject $result -Depth 6 -Compress
""")

# No filter: every instance of the class. Display names compare case-insensitively.
OBJECT_LIST = _render("scom.object_list", """
param(
    [string[]] $DisplayName,
    [guid[]] $Id,
    [string] $ClassName = <<DEFAULT_CLASS>>
)
""" + _CONNECTED + _TIME + _OBJECT + """
$wanted = @(foreach ($objectId in @($Id)) { if ($null -ne $objectId) { $objectId.ToString() } })
$results = @(foreach ($instance in @(Get-SCOMClass -Name $ClassName | Get-SCOMClassInstance)) {
    if ($DisplayName -and $DisplayName -notcontains $instance.DisplayName) { continue }
    if ($wanted.Count -gt 0 -and $wanted -notcontains $instance.Id.ToString()) { continue }
    $entry = $null
    if ($instance.InMaintenanceMode) { $entry = Get-OpWindow $instance }
    ConvertTo-OpObject $instance $entry $null
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

MAINTENANCE_START = _render("scom.maintenance_start", """
param(
    [Parameter(Mandatory = $true)][guid[]] $Id,
    [Parameter(Mandatory = $true)][string] $EndTime,
    [ValidateSet(<<REASONS>>)][string] $Reason = <<DEFAULT_REASON>>,
    [string] $Comment = '',
    [string] $ClassName = <<DEFAULT_CLASS>>
)
""" + _CONNECTED + _TIME + _OBJECT + _ERROR + _END_TIME + _INSTANCES + """
""" + _for_each_object("""
        if ($null -ne (Get-OpWindow $instance)) {
            $failure = [pscustomobject]@{ id = $null; message = <<ALREADY_IN_MAINTENANCE>> }
        } else {
            $null = Start-SCOMMaintenanceMode -Instance $instance -EndTime $end -Reason $Reason -Comment $Comment
        }
"""))

# Reason and comment stay as they are unless given.
MAINTENANCE_UPDATE = _render("scom.maintenance_update", """
param(
    [Parameter(Mandatory = $true)][guid[]] $Id,
    [Parameter(Mandatory = $true)][string] $EndTime,
    [ValidateSet(<<REASONS>>)][string] $Reason,
    [string] $Comment,
    [string] $ClassName = <<DEFAULT_CLASS>>
)
""" + _CONNECTED + _TIME + _OBJECT + _ERROR + _END_TIME + _INSTANCES + """
""" + _for_each_object("""
        $entry = Get-OpWindow $instance
        if ($null -eq $entry) {
            $failure = [pscustomobject]@{ id = $null; message = <<NOT_IN_MAINTENANCE>> }
        } else {
            $newReason = $entry.Reason.ToString()
            if ($PSBoundParameters.ContainsKey('Reason')) { $newReason = $Reason }
            $newComment = [string]$entry.Comments
            if ($PSBoundParameters.ContainsKey('Comment')) { $newComment = $Comment }
            $null = Set-SCOMMaintenanceMode -MaintenanceModeEntry $entry -EndTime $end -Reason $newReason -Comment $newComment
        }
"""))

# "Stop now" is the SDK's StopMaintenanceMode (recursive, like the start); an object that is not
# in maintenance mode is left alone without an error.
MAINTENANCE_STOP = _render("scom.maintenance_stop", """
param(
    [Parameter(Mandatory = $true)][guid[]] $Id,
    [string] $ClassName = <<DEFAULT_CLASS>>
)
""" + _CONNECTED + _TIME + _OBJECT + _ERROR + _INSTANCES + """
""" + _for_each_object("""
        if ($null -ne (Get-OpWindow $instance)) {
            $instance.StopMaintenanceMode([datetime]::UtcNow, [Microsoft.EnterpriseManagement.Common.TraversalDepth]::Recursive)
        }
"""))

OPERATIONS = {
    "scom.connect": CONNECT,
    "scom.object_list": OBJECT_LIST,
    "scom.maintenance_start": MAINTENANCE_START,
    "scom.maintenance_update": MAINTENANCE_UPDATE,
    "scom.maintenance_stop": MAINTENANCE_STOP,
}
