# op: scom.connect v1
param(
    [string] $Server = 'localhost',
    [string] $UserName,
    [securestring] $Password
)
$ErrorActionPreference = 'Stop'
Import-Module -Name OperationsManager
if ($UserName) {
    $credential = [pscredential]::new($UserName, $Password)
    $connection = New-SCOMManagementGroupConnection -ComputerName $Server -Credential $credential -PassThru
} else {
    $connection = New-SCOMManagementGroupConnection -ComputerName $Server -PassThru
}
$global:ScomConnected = $true
$result = [pscustomobject]@{
    server = $Server
    management_group = [string]@($connection)[0].ManagementGroupName
}
ConvertTo-Json -InputObject $result -Depth 6 -Compress
