# op: vmm.checkpoint_list v1
param(
    [Parameter(Mandatory = $true)][guid[]] $VMId
)

$ErrorActionPreference = 'Stop'
$vmm = $global:VmmServer
if ($null -eq $vmm) { throw 'Not connected to a VMM server: run vmm.connect in this runspace first.' }

function ConvertTo-OpTime($Value) {
    if ($null -eq $Value) { return $null }
    ([datetime]$Value).ToUniversalTime().ToString('o')
}

function ConvertTo-OpGuid($Value) {
    if ($null -eq $Value) { return $null }
    $text = $Value.ToString().ToLowerInvariant()
    if ($text -eq '' -or $text -eq '00000000-0000-0000-0000-000000000000') { return $null }
    $text
}

function ConvertTo-OpError($Record) {
    $message = $Record.Exception.Message
    $errorId = $null
    if ($message -match 'Error ID: (\d+)') { $errorId = [int]$Matches[1] }
    [pscustomobject]@{ id = $errorId; message = $message }
}

$results = @(foreach ($id in $VMId) {
    $vmName = $null
    $checkpoints = @()
    $failure = $null
    try {
        $vm = Get-SCVirtualMachine -VMMServer $vmm -ID $id
        if ($null -eq $vm) {
            $failure = [pscustomobject]@{ id = 801; message = 'VMM cannot find the virtual machine object.' }
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
