# op: vmm.job_wait v1
param(
    [Parameter(Mandatory = $true)][guid[]] $JobId,
    [double] $TimeoutSeconds = 600,
    [double] $PollSeconds = 5
)

$ErrorActionPreference = 'Stop'
$vmm = $global:VmmServer
if ($null -eq $vmm) { throw 'Not connected to a VMM server: run vmm.connect in this runspace first.' }

function Test-OpNotFound($Record) {
    $Record.Exception.Message -match 'Error ID: 801\b'
}

function ConvertTo-OpTime($Value) {
    if ($null -eq $Value) { return $null }
    ([datetime]$Value).ToUniversalTime().ToString('o')
}

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
        status = 'NotFound'
        is_completed = $true
        progress = 0
        result_name = $null
        start_time = $null
        end_time = $null
        error = [pscustomobject]@{ id = 801; message = 'VMM cannot find the job object.'; recommended_action = $null }
    }
}

$deadline = [datetime]::UtcNow.AddSeconds($TimeoutSeconds)
while ($true) {
    $results = @(foreach ($id in $JobId) { Get-OpJob $id })
    $pending = @($results | Where-Object { -not $_.is_completed })
    $left = ($deadline - [datetime]::UtcNow).TotalSeconds
    if ($pending.Count -eq 0 -or $left -le 0) { break }
    Start-Sleep -Milliseconds ([int](1000 * [Math]::Min($PollSeconds, $left)))
}
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
