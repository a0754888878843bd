# op: vmm.compliance_list v1
param(
    [Parameter(Mandatory = $true)][string[]] $ComputerName,
    [Parameter(Mandatory = $true)][string] $BaselineName
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

function ConvertTo-OpGuid($Value) {
    if ($null -eq $Value) { return $null }
    $text = $Value.ToString().ToLowerInvariant()
    if ($text -eq '' -or $text -eq '00000000-0000-0000-0000-000000000000') { return $null }
    $text
}

$allHosts = @(Get-SCVMHost -VMMServer $vmm)
$baselines = @(Get-SCBaseline -VMMServer $vmm -Name $BaselineName)
$baseline = $null
if ($baselines.Count -gt 0) { $baseline = $baselines[0] }

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
            $failure = [pscustomobject]@{ id = 801; message = 'VMM cannot find the host object.' }
        } elseif ($null -eq $baseline) {
            $failure = [pscustomobject]@{ id = 801; message = 'VMM cannot find the baseline object.' }
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
