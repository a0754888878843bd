"""Values and records: CLIXML objects from psrpcore to plain Python and back, ErrorRecords.

Handlers see plain Python (str, int, float, bool, None, list, dict, datetime, bytes) and never
psrpcore types, so a state model does not depend on the wire library.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid

from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    ErrorRecordMsg,
    NETException,
    PSDouble,
    PSObject,
    PSSecureString,
    PSVersion,
)

# HResult of System.Management.Automation.RuntimeException (COR_E_SYSTEM), what `throw` and
# Write-Error report.
RUNTIME_HRESULT = -2146233087
RUNTIME_EXCEPTION = "System.Management.Automation.RuntimeException"
WRITE_ERROR_EXCEPTION = "Microsoft.PowerShell.Commands.WriteErrorException"
_SYSTEM_EXCEPTIONS = {RUNTIME_EXCEPTION, WRITE_ERROR_EXCEPTION}


def to_python(value):
    """A deserialised CLIXML value as plain Python; unknown objects become dicts of properties."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, PSSecureString):
        return str(value.decrypt())
    if isinstance(value, enum.Enum):
        return int(value.value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, decimal.Decimal):
        return decimal.Decimal(value)
    if isinstance(value, datetime.datetime):
        # PSDateTime keeps .NET ticks; a plain datetime (microseconds) is what a model compares
        return datetime.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                                 value.microsecond, tzinfo=value.tzinfo)
    if isinstance(value, datetime.timedelta):
        return datetime.timedelta(seconds=value.total_seconds())
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, dict):
        return {to_python(k): to_python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    if isinstance(value, PSVersion):
        return str(value)
    if isinstance(value, PSObject):
        meta = value.PSObject
        props = {}
        for prop in list(meta.adapted_properties) + list(meta.extended_properties):
            props[prop.name] = to_python(prop.get_value(value))
        if props:
            return props
        return meta.to_string if meta.to_string is not None else str(value)
    return value


def to_ps(value):
    """An output object ready for psrpcore's serialiser.

    Floats become Double ([double] in PowerShell); psrpcore would write them as Single and lose
    precision. Everything else (str, int, bool, None, dict -> Hashtable, list, datetime) is
    serialised as is.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return PSDouble(value)
    if isinstance(value, dict):
        return {k: to_ps(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_ps(v) for v in value]
    return value


def category_of(name: str | int | ErrorCategory) -> ErrorCategory:
    if isinstance(name, ErrorCategory):
        return name
    if isinstance(name, int):
        return ErrorCategory(name)
    try:
        return ErrorCategory[name]
    except KeyError:
        raise ValueError(f"unknown PowerShell ErrorCategory {name!r}; one of {', '.join(c.name for c in ErrorCategory)}") from None


def _exception(message: str, exception_type: str) -> NETException:
    exc = NETException(Message=message, HResult=RUNTIME_HRESULT)
    if exception_type in _SYSTEM_EXCEPTIONS:
        chain = [exception_type, "System.SystemException", "System.Exception", "System.Object"]
    else:
        chain = [exception_type, "System.Exception", "System.Object"]
    exc.PSObject.type_names = chain
    # what Exception.ToString() starts with; the server sends it as the object's ToString
    exc.PSObject.to_string = f"{exception_type}: {message}"
    return exc


def error_record(message: str, error_id: str, category: str | int | ErrorCategory = "NotSpecified", *,
                 exception_type: str = RUNTIME_EXCEPTION, target=None, activity: str = "",
                 for_stream: bool = False) -> ErrorRecord:
    """An ErrorRecord shaped like PowerShell's: Exception with type chain and HResult,
    CategoryInfo (Reason = the exception's short type name) and FullyQualifiedErrorId.

    `for_stream` gives the ERROR_RECORD message type (error stream); otherwise the record is for
    a PIPELINE_STATE's ExceptionAsErrorRecord.
    """
    cls = ErrorRecordMsg if for_stream else ErrorRecord
    target_type = "" if target is None else type(target).__name__
    target_type = {"str": "String", "int": "Int32", "dict": "Hashtable", "list": "Object[]", "bool": "Boolean"}.get(
        target_type, target_type)
    info = ErrorCategoryInfo(
        Category=category_of(category),
        Activity=activity or "",
        Reason=exception_type.rsplit(".", 1)[-1],
        TargetName="" if target is None else str(target),
        TargetType=target_type,
    )
    return cls(
        Exception=_exception(message, exception_type),
        CategoryInfo=info,
        TargetObject=None if target is None else to_ps(target),
        FullyQualifiedErrorId=error_id,
    )
