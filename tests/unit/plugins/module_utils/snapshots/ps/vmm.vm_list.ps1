# op: vmm.vm_list v1
param(
    [guid[]] $VMId,
    [string[]] $Name,
    [string[]] $HostName,
    [string[]] $ClusterName,
    [string[]] $Status,
    [string] $CustomPropertyName,
    [string] $CustomPropertyValue
)

$ErrorActionPreference = 'Stop'
$vmm = $global:VmmServer
if ($null -eq $vmm) { throw 'Not connected to a VMM server: run vmm.connect in this runspace first.' }

function Test-OpNotFound($Record) {
    $Record.Exception.Message -match 'Error ID: 801\b'
}

function ConvertTo-OpGuid($Value) {
    if ($null -eq $Value) { return $null }
    $text = $Value.ToString().ToLowerInvariant()
    if ($text -eq '' -or $text -eq '00000000-0000-0000-0000-000000000000') { return $null }
    $text
}

if ($VMId) {
    $vms = @(foreach ($id in $VMId) {
        try {
            Get-SCVirtualMachine -VMMServer $vmm -ID $id
        } catch {
            if (-not (Test-OpNotFound $_)) { throw }
        }
    })
} else {
    $vms = @(Get-SCVirtualMachine -VMMServer $vmm -All)
}
# Filters combine with AND; -contains and -eq compare strings case-insensitively. A host matches
# by Name (FQDN) or ComputerName, as in vmm.host_list.
$results = @(foreach ($vm in $vms) {
    if ($null -eq $vm) { continue }
    $vmHostName = $null
    $vmHostComputerName = $null
    $vmClusterName = $null
    if ($null -ne $vm.VMHost) {
        $vmHostName = $vm.VMHost.Name
        $vmHostComputerName = $vm.VMHost.ComputerName
        if ($null -ne $vm.VMHost.HostCluster) { $vmClusterName = $vm.VMHost.HostCluster.Name }
    }
    $vmStatus = $vm.Status.ToString()
    if ($Name -and $Name -notcontains $vm.Name) { continue }
    if ($HostName -and $HostName -notcontains $vmHostName -and $HostName -notcontains $vmHostComputerName) { continue }
    if ($ClusterName -and $ClusterName -notcontains $vmClusterName) { continue }
    if ($Status -and $Status -notcontains $vmStatus) { continue }
    # Legacy Custom1..Custom10 slots first, then the named custom properties (VMM 2012+).
    $properties = [ordered]@{}
    $legacy = @($vm.CustomProperties)
    for ($slot = 0; $slot -lt $legacy.Count -and $slot -lt 10; $slot++) {
        if ($legacy[$slot]) { $properties['Custom' + ($slot + 1)] = [string]$legacy[$slot] }
    }
    if ($null -ne $vm.CustomProperty) {
        foreach ($key in @($vm.CustomProperty.Keys)) {
            $value = $vm.CustomProperty[$key]
            if ($null -ne $value -and [string]$value -ne '') { $properties[[string]$key] = [string]$value }
        }
    }
    if ($CustomPropertyName) {
        $found = $properties[$CustomPropertyName]
        if ($null -eq $found) { continue }
        if ($CustomPropertyValue -and $found -ne $CustomPropertyValue) { continue }
    }
    [pscustomobject]@{
        id = $vm.ID.ToString()
        name = $vm.Name
        computer_name = $vm.ComputerName
        status = $vmStatus
        host = $vmHostName
        cluster = $vmClusterName
        is_highly_available = [bool]$vm.IsHighlyAvailable
        memory_mb = [int64]$vm.Memory
        custom_properties = $properties
        last_restored_checkpoint_id = ConvertTo-OpGuid $vm.LastRestoredCheckpointID
    }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
