# op: vmm.vm_power v1
param(
    [Parameter(Mandatory = $true)][guid[]] $VMId,
    [Parameter(Mandatory = $true)][ValidateSet('start', 'stop', 'shutdown', 'save', 'suspend', 'resume')][string] $Action
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
