# op: scom.object_list v1
param(
    [string[]] $DisplayName,
    [guid[]] $Id,
    [string] $ClassName = 'Microsoft.Windows.Computer'
)

$ErrorActionPreference = 'Stop'
if (-not $global:ScomConnected) { throw 'Not connected to a SCOM management group: run scom.connect in this runspace first.' }

function ConvertTo-OpTime($Value) {
    if ($null -eq $Value) { return $null }
    ([datetime]$Value).ToUniversalTime().ToString('o')
}

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

$wanted = @(foreach ($objectId in @($Id)) { if ($null -ne $objectId) { $objectId.ToString() } })
$results = @(foreach ($instance in @(Get-SCOMClass -Name $ClassName | Get-SCOMClassInstance)) {
    if ($DisplayName -and $DisplayName -notcontains $instance.DisplayName) { continue }
    if ($wanted.Count -gt 0 -and $wanted -notcontains $instance.Id.ToString()) { continue }
    $entry = $null
    if ($instance.InMaintenanceMode) { $entry = Get-OpWindow $instance }
    ConvertTo-OpObject $instance $entry $null
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
