# op: vmm.checkpoint_restore v1
param(
    [Parameter(Mandatory = $true)][guid[]] $CheckpointId
)

$ErrorActionPreference = 'Stop'
$vmm = $global:VmmServer
if ($null -eq $vmm) { throw 'Not connected to a VMM server: run vmm.connect in this runspace first.' }

function ConvertTo-OpError($Record) {
    $message = $Record.Exception.Message
    $errorId = $null
    if ($message -match 'Error ID: (\d+)') { $errorId = [int]$Matches[1] }
    [pscustomobject]@{ id = $errorId; message = $message }
}

$index = @{}
foreach ($cp in @(Get-SCVMCheckpoint -VMMServer $vmm)) {
    $index[$cp.CheckpointID.ToString().ToLowerInvariant()] = $cp
}

$results = @(foreach ($id in $CheckpointId) {
    $job = $null
    $jobId = $null
    $vmId = $null
    $failure = $null
    try {
        $cp = $index[$id.ToString()]
        if ($null -eq $cp) {
            $failure = [pscustomobject]@{ id = 801; message = 'VMM cannot find the checkpoint object.' }
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
