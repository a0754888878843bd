# op: vmm.host_list v1
param(
    [string[]] $ComputerName,
    [string[]] $ClusterName
)

$ErrorActionPreference = 'Stop'
$vmm = $global:VmmServer
if ($null -eq $vmm) { throw 'Not connected to a VMM server: run vmm.connect in this runspace first.' }

$results = @(foreach ($vmHost in @(Get-SCVMHost -VMMServer $vmm)) {
    if ($ComputerName -and $ComputerName -notcontains $vmHost.Name -and $ComputerName -notcontains $vmHost.ComputerName) { continue }
    $vmClusterName = $null
    if ($null -ne $vmHost.HostCluster) { $vmClusterName = $vmHost.HostCluster.Name }
    if ($ClusterName -and $ClusterName -notcontains $vmClusterName) { continue }
    $hostGroupPath = $null
    if ($null -ne $vmHost.VMHostGroup) { $hostGroupPath = [string]$vmHost.VMHostGroup.Path }
    $hostVms = @(Get-SCVirtualMachine -VMMServer $vmm -VMHost $vmHost)
    $running = @($hostVms | Where-Object { $_.Status.ToString() -eq 'Running' })
    [pscustomobject]@{
        id = $vmHost.ID.ToString()
        name = $vmHost.Name
        computer_name = $vmHost.ComputerName
        cluster = $vmClusterName
        host_group = $hostGroupPath
        overall_state = $vmHost.OverallState.ToString()
        in_maintenance = ([int]$vmHost.OverallState -eq 8)
        available_for_placement = [bool]$vmHost.AvailableForPlacement
        total_memory_mb = [int64]($vmHost.TotalMemory / 1048576)
        available_memory_mb = [int64]$vmHost.AvailableMemory
        running_vm_count = $running.Count
        vm_count = $hostVms.Count
    }
})
ConvertTo-Json -InputObject @($results) -Depth 6 -Compress
