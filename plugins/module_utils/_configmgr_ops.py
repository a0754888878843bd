# -*- coding: utf-8 -*-
# Copyright: vmops.datacenter contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ConfigMgr operation catalogue: what the AdminService cannot do reliably, through the
ConfigurationManager PowerShell module over the PSRP runner.

Same conventions as the VMM and SCOM catalogues (``_vmm_ops``): a marker line, a ``param()``
block, arguments as PSRP parameters, one JSON string out. ``configmgr.connect`` runs once per
runspace pool: it imports the module the ConfigMgr console installs
(``$env:SMS_ADMIN_UI_PATH\\..\\ConfigurationManager.psd1``), makes sure the site's ``CMSite``
drive exists (``New-PSDrive -Root <SMS Provider>`` when the module did not create it) and changes
to it (``Set-Location <SiteCode>:``), where the ConfigMgr cmdlets must run. Reads stay on the
AdminService; only creating and removing software update deployments come through here.

Times in are ISO-8601 strings; deployments are created with UTC times (``-TimeBasedOn Utc``).

Private to the collection: the interface may change between releases.
"""

from __future__ import annotations

VERSION = 1

USER_NOTIFICATIONS = ("DisplayAll", "DisplaySoftwareCenterOnly", "HideAll")
DEFAULT_USER_NOTIFICATION = "HideAll"

# Texts the scripts themselves write (the simulator answers with the same ones).
NOT_CONNECTED = "Not connected to a ConfigMgr site: run configmgr.connect in this runspace first."
CONSOLE_MISSING = ("The ConfigMgr console is not installed on this server (SMS_ADMIN_UI_PATH is not set), so the "
                   "ConfigurationManager module cannot be loaded.")
SITE_UNKNOWN = "The ConfigMgr site code is not known: set the site code explicitly."


def _ps_literal(text):
    return "'" + text.replace("'", "''") + "'"


_TOKENS = {
    "NOT_CONNECTED": _ps_literal(NOT_CONNECTED),
    "CONSOLE_MISSING": _ps_literal(CONSOLE_MISSING),
    "SITE_UNKNOWN": _ps_literal(SITE_UNKNOWN),
    "USER_NOTIFICATIONS": ", ".join(_ps_literal(n) for n in USER_NOTIFICATIONS),
    "DEFAULT_USER_NOTIFICATION": _ps_literal(DEFAULT_USER_NOTIFICATION),
}


def _render(name, text):
    """Marker line + script text with the <<TOKEN>> constants above filled in."""
    for key, value in _TOKENS.items():
        text = text.replace("<<" + key + ">>", value)
    if "<<" in text:
        raise ValueError("unknown token in " + name)
    return "# op: %s v%d\n%s" % (name, VERSION, text.lstrip("\n"))


_CONNECTED = """
$ErrorActionPreference = 'Stop'
if (-not $global:CMSiteCode) { throw <<NOT_CONNECTED>> }
"""

# Without a site code the module's own drive is used: importing it creates one CMSite drive for
# the site the console last connected to.
CONNECT = _render("configmgr.connect", """
param(
    [string] $SiteCode,
    [string] $ProviderMachineName
)
$ErrorActionPreference = 'Stop'
if (-not $env:SMS_ADMIN_UI_PATH) { throw <<CONSOLE_MISSING>> }
Import-Module -Name ($env:SMS_ADMIN_UI_PATH + '\\..\\ConfigurationManager.psd1')
$site = $SiteCode
if (-not $site) {
    $drives = @(Get-PSDrive -PSProvider CMSite)
    if ($drives.Count -ne 1) { throw <<SITE_UNKNOWN>> }
    $site = $drives[0].Name
}
$drive = Get-PSDrive -Name $site -PSProvider CMSite -ErrorAction SilentlyContinue
if ($null -eq $drive) {
    $drive = New-PSDrive -Name $site -PSProvider CMSite -Root $ProviderMachineName
}
Set-Location -Path ($site + ':')
$global:CMSiteCode = $site
$result = [pscustomobject]@{
    site_code = $site
    provider = [string]$drive.Root
}
ConvertTo-Json -InputObject $result -Depth 6 -Compress
""")

# A required deployment of one software update group to one collection. The switches map to the
# cmdlet's Boolean parameters: -RestartServer sets the deployment's server restart suppression
# (SuppressReboot bit 2), -AllowRestart a restart outside maintenance windows
# (RebootOutsideOfServiceWindows), -SoftwareInstallation an installation outside them
# (OverrideServiceWindows).
UPDATE_DEPLOYMENT_NEW = _render("configmgr.update_deployment_new", """
param(
    [Parameter(Mandatory = $true)][string] $SoftwareUpdateGroupId,
    [Parameter(Mandatory = $true)][string] $CollectionId,
    [Parameter(Mandatory = $true)][string] $DeploymentName,
    [Parameter(Mandatory = $true)][string] $AvailableTime,
    [Parameter(Mandatory = $true)][string] $DeadlineTime,
    [ValidateSet(<<USER_NOTIFICATIONS>>)][string] $UserNotification = <<DEFAULT_USER_NOTIFICATION>>,
    [switch] $SuppressRestartServer,
    [switch] $AllowRestart,
    [switch] $AllowSoftwareInstallation
)
""" + _CONNECTED + """
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
""")

# By AssignmentUniqueID (the cmdlets' -DeploymentId); a deployment that is gone already is
# reported as not removed, without an error.
UPDATE_DEPLOYMENT_REMOVE = _render("configmgr.update_deployment_remove", """
param(
    [Parameter(Mandatory = $true)][string[]] $DeploymentId
)
""" + _CONNECTED + """
$results = @(foreach ($uniqueId in $DeploymentId) {
    $found = @(Get-CMSoftwareUpdateDeployment -DeploymentId $uniqueId)
    if ($found.Count -gt 0) {
        $null = Remove-CMSoftwareUpdateDeployment -InputObject $found[0] -Force
    }
    [pscustomobject]@{
        deployment_id = $uniqueId
        removed = ($found.Count -gt 0)
    }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
""")

OPERATIONS = {
    "configmgr.connect": CONNECT,
    "configmgr.update_deployment_new": UPDATE_DEPLOYMENT_NEW,
    "configmgr.update_deployment_remove": UPDATE_DEPLOYMENT_REMOVE,
}
