"""WinRM / PowerShell Remoting (WS-Man + PSRP) simulator for VMM and SCOM operations (see README.md)."""

from .dispatch import Dispatcher, OperationContext, PowerShellError
from .server import PsrpServer

__all__ = ["Dispatcher", "OperationContext", "PowerShellError", "PsrpServer"]
