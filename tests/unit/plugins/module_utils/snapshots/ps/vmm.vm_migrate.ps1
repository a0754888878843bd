# op: vmm.vm_migrate v1
param(
    [Parameter(Mandatory = $true)][guid[]] $VMId,
    [Parameter(Mandatory = $true)][string] $HostName
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

$destinations = @(Get-SCVMHost -VMMServer $vmm | Where-Object { $_.Name -eq $HostName -or $_.ComputerName -eq $HostName })
$results = @(foreach ($id in $VMId) {
    $job = $null
    $jobId = $null
    $source = $null
    $failure = $null
    try {
        if ($destinations.Count -eq 0) {
            $failure = [pscustomobject]@{ id = 801; message = 'VMM cannot find the host object.' }
        } else {
            $vm = Get-SCVirtualMachine -VMMServer $vmm -ID $id
            if ($null -eq $vm) {
                $failure = [pscustomobject]@{ id = 801; message = 'VMM cannot find the virtual machine object.' }
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
