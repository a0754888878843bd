# op: vmm.connect v1
param(
    [string] $Server = 'localhost',
    [string] $UserName,
    [securestring] $Password
)
$ErrorActionPreference = 'Stop'
Import-Module -Name VirtualMachineManager
# A credential only for the jump-box topology; on the VMM server itself the session's own
# identity is used and no second hop happens.
if ($UserName) {
    $credential = [pscredential]::new($UserName, $Password)
    $global:VmmServer = Get-SCVMMServer -ComputerName $Server -Credential $credential
} else {
    $global:VmmServer = Get-SCVMMServer -ComputerName $Server
}
$result = [pscustomobject]@{
    server = $global:VmmServer.Name
    version = [string]$global:VmmServer.ProductVersion
}
ConvertTo-Json -InputObject $result -Depth 6 -Compress
