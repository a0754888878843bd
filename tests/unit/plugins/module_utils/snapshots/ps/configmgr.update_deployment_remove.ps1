# op: configmgr.update_deployment_remove v1
param(
    [Parameter(Mandatory = $true)][string[]] $DeploymentId
)

$ErrorActionPreference = 'Stop'
if (-not $global:CMSiteCode) { throw 'Not connected to a ConfigMgr site: run configmgr.connect in this runspace first.' }

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
