# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VMM operation catalogue: one named PowerShell script per domain method.

Every script starts with its marker line (``# op: vmm.<name> v<N>``) and a ``param()`` block;
arguments travel as PSRP parameters and are never pasted into the text. Each script writes
exactly one JSON string (``ConvertTo-Json -Depth 6 -Compress``): enums as strings, times as
ISO-8601 UTC (``DateTime.ToString('o')``), GUIDs as lower-case strings, lists always lists.

``vmm.connect`` runs once per runspace pool and keeps the server connection in
``$global:VmmServer``; every other script uses it. Writes start VMM jobs with
``-RunAsynchronously -JobVariable`` and return one job id per target; ``vmm.job_wait`` awaits
them. A target that cannot be acted on (not found, or the cmdlet refused it) is reported in its
own result item as ``error: {id, message}`` with the VMM error id when the message carries one
("Error ID: 801"), so one bad VM never hides the others.

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

VERSION = 1

# VMM error ids (ErrorInfo.DisplayableErrorCode / "Error ID: N" in messages).
ERROR_NOT_FOUND = 801
ERROR_INVALID_STATE = 1730
ERROR_TRANSIENT = 1600  # retried by clients

# Texts the scripts themselves write (the simulator answers with the same ones).
NOT_CONNECTED = "Not connected to a VMM server: run vmm.connect in this runspace first."
VM_NOT_FOUND = "VMM cannot find the virtual machine object."
CHECKPOINT_NOT_FOUND = "VMM cannot find the checkpoint object."
HOST_NOT_FOUND = "VMM cannot find the host object."
BASELINE_NOT_FOUND = "VMM cannot find the baseline object."
JOB_NOT_FOUND = "VMM cannot find the job object."
JOB_NOT_FOUND_STATUS = "NotFound"

POWER_ACTIONS = ("start", "stop", "shutdown", "save", "suspend", "resume")
HOST_ACTIONS = ("disable", "enable")


def _ps_literal(text):
    return "'" + text.replace("'", "''") + "'"


_TOKENS = {
    "NOT_CONNECTED": _ps_literal(NOT_CONNECTED),
    "VM_NOT_FOUND": _ps_literal(VM_NOT_FOUND),
    "CHECKPOINT_NOT_FOUND": _ps_literal(CHECKPOINT_NOT_FOUND),
    "HOST_NOT_FOUND": _ps_literal(HOST_NOT_FOUND),
    "BASELINE_NOT_FOUND": _ps_literal(BASELINE_NOT_FOUND),
    "JOB_NOT_FOUND": _ps_literal(JOB_NOT_FOUND),
    "JOB_NOT_FOUND_STATUS": _ps_literal(JOB_NOT_FOUND_STATUS),
    "ERROR_NOT_FOUND": str(ERROR_NOT_FOUND),
    "POWER_ACTIONS": ", ".join(_ps_literal(a) for a in POWER_ACTIONS),
    "HOST_ACTIONS": ", ".join(_ps_literal(a) for a in HOST_ACTIONS),
}


def _render(name, text):
    """Marker line + script text with the <<TOKEN>> constants above filled in."""
    for key, value in _TOKENS.items():
        text = text.replace("<<" + key + ">>", value)
    if "<<" in text:
        raise ValueError("unknown token in " + name)
    return "# op: %s v%d\n%s" % (name, VERSION, text.lstrip("\n"))


# Pieces shared by the scripts. PowerShell variable names are case-insensitive, so locals never
# reuse a parameter's name ($vmHostName, not $hostName next to $HostName).
_CONNECTED = """
$ErrorActionPreference = 'Stop'
$vmm = $global:VmmServer
if ($null -eq $vmm) { throw <<NOT_CONNECTED>> }
"""

# A lookup by id may answer "not found" with an error (801) instead of nothing; anything else
# (a lost connection...) still ends the operation.
_FIND = """
function Test-OpNotFound($Record) {
    $Record.Exception.Message -match 'Error ID: <<ERROR_NOT_FOUND>>\\b'
}
"""

_TIME = """
function ConvertTo-OpTime($Value) {
    if ($null -eq $Value) { return $null }
    ([datetime]$Value).ToUniversalTime().ToString('o')
}
"""

_GUID = """
function ConvertTo-OpGuid($Value) {
    if ($null -eq $Value) { return $null }
    $text = $Value.ToString().ToLowerInvariant()
    if ($text -eq '' -or $text -eq '00000000-0000-0000-0000-000000000000') { return $null }
    $text
}
"""

# The VMM error id is part of the exception text ("... (Error ID: 801)").
_ERROR = """
function ConvertTo-OpError($Record) {
    $message = $Record.Exception.Message
    $errorId = $null
    if ($message -match 'Error ID: (\\d+)') { $errorId = [int]$Matches[1] }
    [pscustomobject]@{ id = $errorId; message = $message }
}
"""

_JOB = """
function ConvertTo-OpJob($Job) {
    $jobStatus = $Job.Status.ToString()
    $jobError = $null
    if ($jobStatus -eq 'Failed' -and $null -ne $Job.ErrorInfo) {
        $jobError = [pscustomobject]@{
            id = [int]$Job.ErrorInfo.DisplayableErrorCode
            message = [string]$Job.ErrorInfo.Problem
            recommended_action = [string]$Job.ErrorInfo.RecommendedAction
        }
    }
    [pscustomobject]@{
        id = $Job.ID.ToString()
        name = $Job.Name
        status = $jobStatus
        is_completed = [bool]$Job.IsCompleted
        progress = [int]$Job.ProgressValue
        result_name = $Job.ResultName
        start_time = ConvertTo-OpTime $Job.StartTime
        end_time = ConvertTo-OpTime $Job.EndTime
        error = $jobError
    }
}

function Get-OpJob($Key) {
    $job = $null
    try {
        $job = Get-SCJob -VMMServer $vmm -ID $Key
    } catch {
        if (-not (Test-OpNotFound $_)) { throw }
    }
    if ($null -ne $job) { return (ConvertTo-OpJob $job) }
    [pscustomobject]@{
        id = $Key.ToString()
        name = $null
        status = <<JOB_NOT_FOUND_STATUS>>
        is_completed = $true
        progress = 0
        result_name = $null
        start_time = $null
        end_time = $null
        error = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<JOB_NOT_FOUND>>; recommended_action = $null }
    }
}
"""

CONNECT = _render("vmm.connect", """
param(
    [string] $Server = 'localhost',
    [string] $UserName,
    [securestring] $Password
)
$ErrorActionPreference = 'Stop'
Import-Module -Name VirtualMachineManager
# A credential only for the jump-box topology; on the VMM server itself the session's own
# identity is used and no second hop happens.
if ($UserName) {
    $credential = [pscredential]::new($UserName, $Password)
    $global:VmmServer = Get-SCVMMServer -ComputerName $Server -Credential $credential
} else {
    $global:VmmServer = Get-SCVMMServer -ComputerName $Server
}
$result = [pscustomobject]@{
    server = $global:VmmServer.Name
    version = [string]$global:VmmServer.ProductVersion
}
ConvertTo-Json -InputObject $result -Depth 6 -Compress
""")

VM_LIST = _render("vmm.vm_list", """
param(
    [guid[]] $VMId,
    [string[]] $Name,
    [string[]] $HostName,
    [string[]] $ClusterName,
    [string[]] $Status,
    [string] $CustomPropertyName,
    [string] $CustomPropertyValue
)
""" + _CONNECTED + _FIND + _GUID + """
if ($VMId) {
    $vms = @(foreach ($id in $VMId) {
        try {
            Get-SCVirtualMachine -VMMServer $vmm -ID $id
        } catch {
            if (-not (Test-OpNotFound $_)) { throw }
        }
    })
} else {
    $vms = @(Get-SCVirtualMachine -VMMServer $vmm -All)
}
# Filters combine with AND; -contains and -eq compare strings case-insensitively. A host matches
# by Name (FQDN) or ComputerName, as in vmm.host_list.
$results = @(foreach ($vm in $vms) {
    if ($null -eq $vm) { continue }
    $vmHostName = $null
    $vmHostComputerName = $null
    $vmClusterName = $null
    if ($null -ne $vm.VMHost) {
        $vmHostName = $vm.VMHost.Name
        $vmHostComputerName = $vm.VMHost.ComputerName
        if ($null -ne $vm.VMHost.HostCluster) { $vmClusterName = $vm.VMHost.HostCluster.Name }
    }
    $vmStatus = $vm.Status.ToString()
    if ($Name -and $Name -notcontains $vm.Name) { continue }
    if ($HostName -and $HostName -notcontains $vmHostName -and $HostName -notcontains $vmHostComputerName) { continue }
    if ($ClusterName -and $ClusterName -notcontains $vmClusterName) { continue }
    if ($Status -and $Status -notcontains $vmStatus) { continue }
    # Legacy Custom1..Custom10 slots first, then the named custom properties (VMM 2012+).
    $properties = [ordered]@{}
    $legacy = @($vm.CustomProperties)
    for ($slot = 0; $slot -lt $legacy.Count -and $slot -lt 10; $slot++) {
        if ($legacy[$slot]) { $properties['Custom' + ($slot + 1)] = [string]$legacy[$slot] }
    }
    if ($null -ne $vm.CustomProperty) {
        foreach ($key in @($vm.CustomProperty.Keys)) {
            $value = $vm.CustomProperty[$key]
            if ($null -ne $value -and [string]$value -ne '') { $properties[[string]$key] = [string]$value }
        }
    }
    if ($CustomPropertyName) {
        $found = $properties[$CustomPropertyName]
        if ($null -eq $found) { continue }
        if ($CustomPropertyValue -and $found -ne $CustomPropertyValue) { continue }
    }
    [pscustomobject]@{
        id = $vm.ID.ToString()
        name = $vm.Name
        computer_name = $vm.ComputerName
        status = $vmStatus
        host = $vmHostName
        cluster = $vmClusterName
        is_highly_available = [bool]$vm.IsHighlyAvailable
        memory_mb = [int64]$vm.Memory
        custom_properties = $properties
        last_restored_checkpoint_id = ConvertTo-OpGuid $vm.LastRestoredCheckpointID
    }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

# -Shutdown and -Force are always explicit: the switch-less Stop-SCVirtualMachine is documented
# both ways.
VM_POWER = _render("vmm.vm_power", """
param(
    [Parameter(Mandatory = $true)][guid[]] $VMId,
    [Parameter(Mandatory = $true)][ValidateSet(<<POWER_ACTIONS>>)][string] $Action
)
""" + _CONNECTED + _ERROR + """
$results = @(foreach ($id in $VMId) {
    $job = $null
    $jobId = $null
    $failure = $null
    try {
        $vm = Get-SCVirtualMachine -VMMServer $vmm -ID $id
        if ($null -eq $vm) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<VM_NOT_FOUND>> }
        } else {
            switch ($Action) {
                'start' { $null = Start-SCVirtualMachine -VM $vm -RunAsynchronously -JobVariable 'job' }
                'stop' { $null = Stop-SCVirtualMachine -VM $vm -Force -RunAsynchronously -JobVariable 'job' }
                'shutdown' { $null = Stop-SCVirtualMachine -VM $vm -Shutdown -RunAsynchronously -JobVariable 'job' }
                'save' { $null = Stop-SCVirtualMachine -VM $vm -SaveState -RunAsynchronously -JobVariable 'job' }
                'suspend' { $null = Suspend-SCVirtualMachine -VM $vm -RunAsynchronously -JobVariable 'job' }
                'resume' { $null = Resume-SCVirtualMachine -VM $vm -RunAsynchronously -JobVariable 'job' }
            }
            $jobId = $job.ID.ToString()
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    [pscustomobject]@{ vm_id = $id.ToString(); job_id = $jobId; error = $failure }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

CHECKPOINT_LIST = _render("vmm.checkpoint_list", """
param(
    [Parameter(Mandatory = $true)][guid[]] $VMId
)
""" + _CONNECTED + _TIME + _GUID + _ERROR + """
$results = @(foreach ($id in $VMId) {
    $vmName = $null
    $checkpoints = @()
    $failure = $null
    try {
        $vm = Get-SCVirtualMachine -VMMServer $vmm -ID $id
        if ($null -eq $vm) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<VM_NOT_FOUND>> }
        } else {
            $vmName = $vm.Name
            # Oldest first; names are not unique, ids are.
            $checkpoints = @(foreach ($cp in @(Get-SCVMCheckpoint -VM $vm | Sort-Object -Property AddedTime)) {
                [pscustomobject]@{
                    id = ConvertTo-OpGuid $cp.CheckpointID
                    name = $cp.Name
                    description = [string]$cp.Description
                    parent_id = ConvertTo-OpGuid $cp.ParentCheckpointID
                    added_time = ConvertTo-OpTime $cp.AddedTime
                }
            })
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    [pscustomobject]@{ vm_id = $id.ToString(); vm_name = $vmName; checkpoints = $checkpoints; error = $failure }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

CHECKPOINT_NEW = _render("vmm.checkpoint_new", """
param(
    [Parameter(Mandatory = $true)][guid[]] $VMId,
    [Parameter(Mandatory = $true)][string] $Name,
    [string] $Description = ''
)
""" + _CONNECTED + _ERROR + """
$results = @(foreach ($id in $VMId) {
    $job = $null
    $jobId = $null
    $failure = $null
    try {
        $vm = Get-SCVirtualMachine -VMMServer $vmm -ID $id
        if ($null -eq $vm) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<VM_NOT_FOUND>> }
        } else {
            $null = New-SCVMCheckpoint -VM $vm -Name $Name -Description $Description -RunAsynchronously -JobVariable 'job'
            $jobId = $job.ID.ToString()
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    [pscustomobject]@{ vm_id = $id.ToString(); job_id = $jobId; error = $failure }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

# Checkpoints are addressed by CheckpointID (the id ParentCheckpointID and the VM's
# LastRestoredCheckpointID refer to); one listing of all checkpoints serves every id.
_CHECKPOINT_INDEX = """
$index = @{}
foreach ($cp in @(Get-SCVMCheckpoint -VMMServer $vmm)) {
    $index[$cp.CheckpointID.ToString().ToLowerInvariant()] = $cp
}
"""

CHECKPOINT_REMOVE = _render("vmm.checkpoint_remove", """
param(
    [Parameter(Mandatory = $true)][guid[]] $CheckpointId
)
""" + _CONNECTED + _ERROR + _CHECKPOINT_INDEX + """
$results = @(foreach ($id in $CheckpointId) {
    $job = $null
    $jobId = $null
    $vmId = $null
    $failure = $null
    try {
        $cp = $index[$id.ToString()]
        if ($null -eq $cp) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<CHECKPOINT_NOT_FOUND>> }
        } else {
            $vmId = $cp.VM.ID.ToString()
            $null = Remove-SCVMCheckpoint -VMCheckpoint $cp -Confirm:$false -RunAsynchronously -JobVariable 'job'
            $jobId = $job.ID.ToString()
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    [pscustomobject]@{ checkpoint_id = $id.ToString(); vm_id = $vmId; job_id = $jobId; error = $failure }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

# Restoring discards the VM's changes since the checkpoint; later checkpoints remain.
CHECKPOINT_RESTORE = _render("vmm.checkpoint_restore", """
param(
    [Parameter(Mandatory = $true)][guid[]] $CheckpointId
)
""" + _CONNECTED + _ERROR + _CHECKPOINT_INDEX + """
$results = @(foreach ($id in $CheckpointId) {
    $job = $null
    $jobId = $null
    $vmId = $null
    $failure = $null
    try {
        $cp = $index[$id.ToString()]
        if ($null -eq $cp) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<CHECKPOINT_NOT_FOUND>> }
        } else {
            $vmId = $cp.VM.ID.ToString()
            $null = Restore-SCVMCheckpoint -VMCheckpoint $cp -RunAsynchronously -JobVariable 'job'
            $jobId = $job.ID.ToString()
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    [pscustomobject]@{ checkpoint_id = $id.ToString(); vm_id = $vmId; job_id = $jobId; error = $failure }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

# A host matches by Name (FQDN) or ComputerName. VMM reports TotalMemory in bytes and
# AvailableMemory in MB. OverallState 8 is "in maintenance mode" (ManageIQ's parser); the
# enum's member name is not documented, so the flag is computed from the number. The host
# group is its full path from the root ("All Hosts\Production\Cluster A").
HOST_LIST = _render("vmm.host_list", """
param(
    [string[]] $ComputerName,
    [string[]] $ClusterName
)
""" + _CONNECTED + """
$results = @(foreach ($vmHost in @(Get-SCVMHost -VMMServer $vmm)) {
    if ($ComputerName -and $ComputerName -notcontains $vmHost.Name -and $ComputerName -notcontains $vmHost.ComputerName) { continue }
    $vmClusterName = $null
    if ($null -ne $vmHost.HostCluster) { $vmClusterName = $vmHost.HostCluster.Name }
    if ($ClusterName -and $ClusterName -notcontains $vmClusterName) { continue }
    $hostGroupPath = $null
    if ($null -ne $vmHost.VMHostGroup) { $hostGroupPath = [string]$vmHost.VMHostGroup.Path }
    $hostVms = @(Get-SCVirtualMachine -VMMServer $vmm -VMHost $vmHost)
    $running = @($hostVms | Where-Object { $_.Status.ToString() -eq 'Running' })
    [pscustomobject]@{
        id = $vmHost.ID.ToString()
        name = $vmHost.Name
        computer_name = $vmHost.ComputerName
        cluster = $vmClusterName
        host_group = $hostGroupPath
        overall_state = $vmHost.OverallState.ToString()
        in_maintenance = ([int]$vmHost.OverallState -eq 8)
        available_for_placement = [bool]$vmHost.AvailableForPlacement
        total_memory_mb = [int64]($vmHost.TotalMemory / 1048576)
        available_memory_mb = [int64]$vmHost.AvailableMemory
        running_vm_count = $running.Count
        vm_count = $hostVms.Count
    }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

# Maintenance mode proper (Disable-/Enable-SCVMHost), not the obsolete "maintenance host" flag.
# With -MoveWithinCluster running highly available VMs are live-migrated within the cluster and
# the other running VMs saved; without it, or on a stand-alone host, every running VM is saved.
HOST_MAINTENANCE = _render("vmm.host_maintenance", """
param(
    [Parameter(Mandatory = $true)][string[]] $ComputerName,
    [Parameter(Mandatory = $true)][ValidateSet(<<HOST_ACTIONS>>)][string] $Action,
    [switch] $MoveWithinCluster
)
""" + _CONNECTED + _ERROR + """
$allHosts = @(Get-SCVMHost -VMMServer $vmm)
$results = @(foreach ($target in $ComputerName) {
    $job = $null
    $jobId = $null
    $hostId = $null
    $failure = $null
    try {
        $matched = @($allHosts | Where-Object { $_.Name -eq $target -or $_.ComputerName -eq $target })
        if ($matched.Count -eq 0) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<HOST_NOT_FOUND>> }
        } else {
            $vmHost = $matched[0]
            $hostId = $vmHost.ID.ToString()
            if ($Action -eq 'disable') {
                $null = Disable-SCVMHost -VMHost $vmHost -MoveWithinCluster:$MoveWithinCluster -RunAsynchronously -JobVariable 'job'
            } else {
                $null = Enable-SCVMHost -VMHost $vmHost -RunAsynchronously -JobVariable 'job'
            }
            $jobId = $job.ID.ToString()
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    [pscustomobject]@{ host = $target; host_id = $hostId; job_id = $jobId; error = $failure }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

# Live migration of VMs to one host (Move-SCVirtualMachine -VM -VMHost): within a cluster the VM's files
# stay on the cluster's shared storage, so neither -Path (a destination folder, for moves that copy
# storage) nor -UseLAN (network instead of SAN transfer for such copies) nor -HighlyAvailable (placing a
# VM on a cluster as HA) applies. The cmdlet checks the placement before it starts the job (host in
# maintenance mode, another cluster, not enough memory) and refuses with its error id; the job re-checks
# when it runs. An unknown host is reported per VM, so the answer has the same shape either way.
VM_MIGRATE = _render("vmm.vm_migrate", """
param(
    [Parameter(Mandatory = $true)][guid[]] $VMId,
    [Parameter(Mandatory = $true)][string] $HostName
)
""" + _CONNECTED + _ERROR + """
$destinations = @(Get-SCVMHost -VMMServer $vmm | Where-Object { $_.Name -eq $HostName -or $_.ComputerName -eq $HostName })
$results = @(foreach ($id in $VMId) {
    $job = $null
    $jobId = $null
    $source = $null
    $failure = $null
    try {
        if ($destinations.Count -eq 0) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<HOST_NOT_FOUND>> }
        } else {
            $vm = Get-SCVirtualMachine -VMMServer $vmm -ID $id
            if ($null -eq $vm) {
                $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<VM_NOT_FOUND>> }
            } else {
                if ($null -ne $vm.VMHost) { $source = $vm.VMHost.Name }
                $null = Move-SCVirtualMachine -VM $vm -VMHost $destinations[0] -RunAsynchronously -JobVariable 'job'
                $jobId = $job.ID.ToString()
            }
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    [pscustomobject]@{ vm_id = $id.ToString(); from = $source; job_id = $jobId; error = $failure }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

# By id (unknown ids come back with status NotFound and error 801), else the newest N jobs,
# else the running ones.
JOB_LIST = _render("vmm.job_list", """
param(
    [guid[]] $JobId,
    [int] $Newest = 0
)
""" + _CONNECTED + _FIND + _TIME + _JOB + """
if ($JobId) {
    $results = @(foreach ($id in $JobId) { Get-OpJob $id })
} elseif ($Newest -gt 0) {
    $results = @(foreach ($job in @(Get-SCJob -VMMServer $vmm -Newest $Newest)) { ConvertTo-OpJob $job })
} else {
    $results = @(foreach ($job in @(Get-SCJob -VMMServer $vmm -Running)) { ConvertTo-OpJob $job })
}
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

# Polls until every job is completed or the timeout passes; the answer has the same shape as
# vmm.job_list, so a caller sees a timeout as jobs with is_completed false.
JOB_WAIT = _render("vmm.job_wait", """
param(
    [Parameter(Mandatory = $true)][guid[]] $JobId,
    [double] $TimeoutSeconds = 600,
    [double] $PollSeconds = 5
)
""" + _CONNECTED + _FIND + _TIME + _JOB + """
$deadline = [datetime]::UtcNow.AddSeconds($TimeoutSeconds)
while ($true) {
    $results = @(foreach ($id in $JobId) { Get-OpJob $id })
    $pending = @($results | Where-Object { -not $_.is_completed })
    $left = ($deadline - [datetime]::UtcNow).TotalSeconds
    if ($pending.Count -eq 0 -or $left -le 0) { break }
    Start-Sleep -Milliseconds ([int](1000 * [Math]::Min($PollSeconds, $left)))
}
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

# Update compliance of hosts against one baseline (a VMM baseline: updates plus an assignment scope of
# host groups, clusters and hosts). A host is addressed by Name or ComputerName as in vmm.host_list;
# its VMMManagedComputer is the host's ManagedComputer. The baseline is looked up once by name.
_BASELINE = """
$allHosts = @(Get-SCVMHost -VMMServer $vmm)
$baselines = @(Get-SCBaseline -VMMServer $vmm -Name $BaselineName)
$baseline = $null
if ($baselines.Count -gt 0) { $baseline = $baselines[0] }
"""

# Get-SCComplianceStatus answers from the VMM database (the last scan and remediation), so it also
# answers for a host that is restarting. A baseline that is not assigned to the host has no
# BaselineLevelComplianceStatus entry: assigned is false and the update list empty.
COMPLIANCE_LIST = _render("vmm.compliance_list", """
param(
    [Parameter(Mandatory = $true)][string[]] $ComputerName,
    [Parameter(Mandatory = $true)][string] $BaselineName
)
""" + _CONNECTED + _ERROR + _GUID + _BASELINE + """
$results = @(foreach ($target in $ComputerName) {
    $hostId = $null
    $vmHostName = $null
    $baselineId = $null
    $assigned = $false
    $state = $null
    $overall = $null
    $pending = $null
    $communication = $null
    $updates = @()
    $failure = $null
    try {
        $matched = @($allHosts | Where-Object { $_.Name -eq $target -or $_.ComputerName -eq $target })
        if ($matched.Count -eq 0) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<HOST_NOT_FOUND>> }
        } elseif ($null -eq $baseline) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<BASELINE_NOT_FOUND>> }
        } else {
            $vmHost = $matched[0]
            $hostId = $vmHost.ID.ToString()
            $vmHostName = $vmHost.Name
            $baselineId = ConvertTo-OpGuid $baseline.ID
            $communication = [string]$vmHost.CommunicationStateString
            $status = Get-SCComplianceStatus -VMMManagedComputer $vmHost.ManagedComputer
            $overall = [string]$status.OverallComplianceState
            $pending = [string]$status.StatusString
            foreach ($level in @($status.BaselineLevelComplianceStatus)) {
                if ($null -eq $level.Baseline -or $level.Baseline.ID -ne $baseline.ID) { continue }
                $assigned = $true
                $state = [string]$level.BaselineLevelComplianceState
                $updates = @(foreach ($entry in @($level.UpdateLevelComplianceStatus)) {
                    [pscustomobject]@{
                        id = ConvertTo-OpGuid $entry.Update.ID
                        kb = [string]$entry.Update.KBArticle
                        title = [string]$entry.Update.Name
                        status = [string]$entry.ComplianceState
                    }
                })
            }
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    [pscustomobject]@{
        host = $target
        host_name = $vmHostName
        host_id = $hostId
        baseline = $BaselineName
        baseline_id = $baselineId
        assigned = $assigned
        compliance = $state
        overall_compliance = $overall
        pending = $pending
        communication_state = $communication
        updates = $updates
        error = $failure
    }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")


def _baseline_job(name, params, start):
    """A write against one baseline for every host: one job per host, as in vmm.host_maintenance."""
    return _render(name, """
param(
    [Parameter(Mandatory = $true)][string[]] $ComputerName,
    [Parameter(Mandatory = $true)][string] $BaselineName""" + params + """
)
""" + _CONNECTED + _ERROR + _BASELINE + """
$results = @(foreach ($target in $ComputerName) {
    $job = $null
    $jobId = $null
    $hostId = $null
    $failure = $null
    try {
        $matched = @($allHosts | Where-Object { $_.Name -eq $target -or $_.ComputerName -eq $target })
        if ($matched.Count -eq 0) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<HOST_NOT_FOUND>> }
        } elseif ($null -eq $baseline) {
            $failure = [pscustomobject]@{ id = <<ERROR_NOT_FOUND>>; message = <<BASELINE_NOT_FOUND>> }
        } else {
            $vmHost = $matched[0]
            $hostId = $vmHost.ID.ToString()
""" + start + """
            $jobId = $job.ID.ToString()
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    [pscustomobject]@{ host = $target; host_id = $hostId; job_id = $jobId; error = $failure }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")


COMPLIANCE_SCAN = _baseline_job("vmm.compliance_scan", "", """\
            $null = Start-SCComplianceScan -VMMManagedComputer $vmHost.ManagedComputer -Baseline $baseline -RunAsynchronously -JobVariable 'job'""")

# Installs the baseline's non-compliant updates on the host; the host restarts as part of the job
# when an update asks for it, unless -SuspendReboot. No -EnableMaintenanceMode: draining the host
# is the caller's business (vmm.host_maintenance), and that switch is for a stand-alone host.
_REMEDIATE = ("            $null = Start-SCUpdateRemediation -VMMManagedComputer $vmHost.ManagedComputer -Baseline $baseline "
              "-SuspendReboot:$SuspendReboot -RunAsynchronously -JobVariable 'job'")
UPDATE_REMEDIATE = _baseline_job("vmm.update_remediate", """,
    [switch] $SuspendReboot""", _REMEDIATE)

OPERATIONS = {
    "vmm.connect": CONNECT,
    "vmm.vm_list": VM_LIST,
    "vmm.vm_power": VM_POWER,
    "vmm.checkpoint_list": CHECKPOINT_LIST,
    "vmm.checkpoint_new": CHECKPOINT_NEW,
    "vmm.checkpoint_remove": CHECKPOINT_REMOVE,
    "vmm.checkpoint_restore": CHECKPOINT_RESTORE,
    "vmm.host_list": HOST_LIST,
    "vmm.host_maintenance": HOST_MAINTENANCE,
    "vmm.vm_migrate": VM_MIGRATE,
    "vmm.compliance_list": COMPLIANCE_LIST,
    "vmm.compliance_scan": COMPLIANCE_SCAN,
    "vmm.update_remediate": UPDATE_REMEDIATE,
    "vmm.job_list": JOB_LIST,
    "vmm.job_wait": JOB_WAIT,
}
