# op: vmm.update_remediate v1
param(
    [Parameter(Mandatory = $true)][string[]] $ComputerName,
    [Parameter(Mandatory = $true)][string] $BaselineName,
    [switch] $SuspendReboot
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

$allHosts = @(Get-SCVMHost -VMMServer $vmm)
$baselines = @(Get-SCBaseline -VMMServer $vmm -Name $BaselineName)
$baseline = $null
if ($baselines.Count -gt 0) { $baseline = $baselines[0] }

$results = @(foreach ($target in $ComputerName) {
    $job = $null
    $jobId = $null
    $hostId = $null
    $failure = $null
    try {
        $matched = @($allHosts | Where-Object { $_.Name -eq $target -or $_.ComputerName -eq $target })
        if ($matched.Count -eq 0) {
            $failure = [pscustomobject]@{ id = 801; message = 'VMM cannot find the host object.' }
        } elseif ($null -eq $baseline) {
            $failure = [pscustomobject]@{ id = 801; message = 'VMM cannot find the baseline object.' }
        } else {
            $vmHost = $matched[0]
            $hostId = $vmHost.ID.ToString()
            $null = Start-SCUpdateRemediation -VMMManagedComputer $vmHost.ManagedComputer -Baseline $baseline -SuspendReboot:$SuspendReboot -RunAsynchronously -JobVariable 'job'
            $jobId = $job.ID.ToString()
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    [pscustomobject]@{ host = $target; host_id = $hostId; job_id = $jobId; error = $failure }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
