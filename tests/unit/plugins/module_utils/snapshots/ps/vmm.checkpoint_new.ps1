# op: vmm.checkpoint_new v1
param(
    [Parameter(Mandatory = $true)][guid[]] $VMId,
    [Parameter(Mandatory = $true)][string] $Name,
    [string] $Description = ''
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

$results = @(foreach ($id in $VMId) {
    $job = $null
    $jobId = $null
    $failure = $null
    try {
        $vm = Get-SCVirtualMachine -VMMServer $vmm -ID $id
        if ($null -eq $vm) {
            $failure = [pscustomobject]@{ id = 801; message = 'VMM cannot find the virtual machine object.' }
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
