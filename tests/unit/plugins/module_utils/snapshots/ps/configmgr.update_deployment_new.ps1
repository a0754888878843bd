# op: configmgr.update_deployment_new v1
param(
    [Parameter(Mandatory = $true)][string] $SoftwareUpdateGroupId,
    [Parameter(Mandatory = $true)][string] $CollectionId,
    [Parameter(Mandatory = $true)][string] $DeploymentName,
    [Parameter(Mandatory = $true)][string] $AvailableTime,
    [Parameter(Mandatory = $true)][string] $DeadlineTime,
    [ValidateSet('DisplayAll', 'DisplaySoftwareCenterOnly', 'HideAll')][string] $UserNotification = 'HideAll',
    [switch] $SuppressRestartServer,
    [switch] $AllowRestart,
    [switch] $AllowSoftwareInstallation
)

$ErrorActionPreference = 'Stop'
if (-not $global:CMSiteCode) { throw 'Not connected to a ConfigMgr site: run configmgr.connect in this runspace first.' }

$culture = [Globalization.CultureInfo]::InvariantCulture
$style = [Globalization.DateTimeStyles]::RoundtripKind
$available = [datetime]::Parse($AvailableTime, $culture, $style).ToUniversalTime()
$deadline = [datetime]::Parse($DeadlineTime, $culture, $style).ToUniversalTime()
$suppressServer = [bool]$SuppressRestartServer
$restartOutside = [bool]$AllowRestart
$installOutside = [bool]$AllowSoftwareInstallation
$deployment = New-CMSoftwareUpdateDeployment -SoftwareUpdateGroupId $SoftwareUpdateGroupId -CollectionId $CollectionId `
    -DeploymentName $DeploymentName -DeploymentType Required -TimeBasedOn Utc `
    -AvailableDateTime $available -DeadlineDateTime $deadline -UserNotification $UserNotification `
    -RestartServer $suppressServer -AllowRestart $restartOutside -SoftwareInstallation $installOutside -AcceptEula
$result = [pscustomobject]@{
    assignment_id = [int]$deployment.AssignmentID
    assignment_unique_id = [string]$deployment.AssignmentUniqueID
    name = [string]$deployment.AssignmentName
}
ConvertTo-Json -InputObject $result -Depth 6 -Compress
