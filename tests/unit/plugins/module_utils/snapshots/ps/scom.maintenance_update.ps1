# op: scom.maintenance_update v1
param(
    [Parameter(Mandatory = $true)][guid[]] $Id,
    [Parameter(Mandatory = $true)][string] $EndTime,
    [ValidateSet('PlannedOther', 'UnplannedOther', 'PlannedHardwareMaintenance', 'UnplannedHardwareMaintenance', 'PlannedHardwareInstallation', 'UnplannedHardwareInstallation', 'PlannedOperatingSystemReconfiguration', 'UnplannedOperatingSystemReconfiguration', 'PlannedApplicationMaintenance', 'ApplicationInstallation', 'ApplicationUnresponsive', 'ApplicationUnstable', 'SecurityIssue', 'LossOfNetworkConnectivity')][string] $Reason,
    [string] $Comment,
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

function ConvertTo-OpError($Record) {
    [pscustomobject]@{ id = $null; message = $Record.Exception.Message }
}

$end = [datetime]::Parse($EndTime, [Globalization.CultureInfo]::InvariantCulture, [Globalization.DateTimeStyles]::RoundtripKind).ToUniversalTime()
if ($end -le [datetime]::UtcNow) { throw 'EndTime must be later than the current time.' }

$instances = @{}
foreach ($instance in @(Get-SCOMClass -Name $ClassName | Get-SCOMClassInstance)) {
    $instances[$instance.Id.ToString()] = $instance
}

$results = @(foreach ($objectId in $Id) {
    $instance = $instances[$objectId.ToString()]
    if ($null -eq $instance) {
        [pscustomobject]@{
            id = $objectId.ToString()
            display_name = $null
            in_maintenance = $false
            maintenance = $null
            error = [pscustomobject]@{ id = $null; message = 'The monitoring object was not found.' }
        }
        continue
    }
    $failure = $null
    try {
        $entry = Get-OpWindow $instance
        if ($null -eq $entry) {
            $failure = [pscustomobject]@{ id = $null; message = 'The monitoring object is not in maintenance mode.' }
        } else {
            $newReason = $entry.Reason.ToString()
            if ($PSBoundParameters.ContainsKey('Reason')) { $newReason = $Reason }
            $newComment = [string]$entry.Comments
            if ($PSBoundParameters.ContainsKey('Comment')) { $newComment = $Comment }
            $null = Set-SCOMMaintenanceMode -MaintenanceModeEntry $entry -EndTime $end -Reason $newReason -Comment $newComment
        }
    } catch {
        $failure = ConvertTo-OpError $_
    }
    ConvertTo-OpObject $instance (Get-OpWindow $instance) $failure
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
