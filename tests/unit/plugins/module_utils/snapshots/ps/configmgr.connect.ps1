# op: configmgr.connect v1
param(
    [string] $SiteCode,
    [string] $ProviderMachineName
)
$ErrorActionPreference = 'Stop'
if (-not $env:SMS_ADMIN_UI_PATH) { throw 'The ConfigMgr console is not installed on this server (SMS_ADMIN_UI_PATH is not set), so the ConfigurationManager module cannot be loaded.' }
Import-Module -Name ($env:SMS_ADMIN_UI_PATH + '\..\ConfigurationManager.psd1')
$site = $SiteCode
if (-not $site) {
    $drives = @(Get-PSDrive -PSProvider CMSite)
    if ($drives.Count -ne 1) { throw 'The ConfigMgr site code is not known: set the site code explicitly.' }
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
