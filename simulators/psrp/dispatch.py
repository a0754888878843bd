"""The operation dispatcher: marker + bound parameters -> a registered Python handler.

A handler is `handler(params: dict, ctx: OperationContext) -> list` of output objects (usually
one JSON string). It reports non-terminating errors with `ctx.write_error(...)` and terminating
ones by raising `PowerShellError`, which fails the pipeline the way a `throw` does.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .records import RUNTIME_EXCEPTION, WRITE_ERROR_EXCEPTION, category_of, error_record, to_ps, to_python
from .script import BindingError, Invocation, bind, declared_params, find_marker

Handler = Callable[[dict, "OperationContext"], Any]


class PowerShellError(Exception):
    """A terminating error: the pipeline ends Failed with this ErrorRecord in its state message."""

    def __init__(self, message: str, error_id: str = "VmopsSimulator.Error", category: str = "NotSpecified",
                 exception_type: str = RUNTIME_EXCEPTION, target=None, activity: str = ""):
        super().__init__(message)
        category_of(category)  # a typo in a category name fails where it is written
        self.message = message
        self.error_id = error_id
        self.category = category
        self.exception_type = exception_type
        self.target = target
        self.activity = activity

    def record(self, for_stream: bool = False):
        return error_record(self.message, self.error_id, self.category, exception_type=self.exception_type,
                            target=self.target, activity=self.activity, for_stream=for_stream)

    def __repr__(self) -> str:
        return f"PowerShellError({self.message!r}, {self.error_id!r}, {self.category!r}, {self.exception_type!r})"


class OperationContext:
    """What a handler may do besides returning output. `session` is per runspace pool (survives
    across the pipelines of one pool, like session state); `cancelled` is set when the client
    stops the pipeline, closes the pool or the server stops."""

    def __init__(self, *, op: str, version: int, script: str, params: dict, shell_id: str, pipeline_id: str,
                 username: str, session: dict, cancelled: threading.Event, sink, pipeline_input: list | None = None):
        self.op = op
        self.version = version
        self.script = script
        self.params = params
        self.shell_id = shell_id
        self.pipeline_id = pipeline_id
        self.username = username
        self.session = session
        self.input = pipeline_input or []
        self.errors = 0
        self._cancelled = cancelled
        self._sink = sink

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def sleep(self, seconds: float) -> bool:
        """Wait like a job would; False (early) when the pipeline was stopped."""
        return not self._cancelled.wait(seconds)

    def write_output(self, obj) -> None:
        """Stream one output object now instead of returning it."""
        self._sink.output(to_ps(obj))

    def write_error(self, message: str, error_id: str, category: str = "NotSpecified", target=None,
                    exception_type: str = WRITE_ERROR_EXCEPTION) -> None:
        """A non-terminating error (Write-Error): on the error stream, the pipeline still completes."""
        self.errors += 1
        self._sink.error(error_record(message, error_id, category, exception_type=exception_type, target=target,
                                      activity="Write-Error", for_stream=True))

    def write_warning(self, message: str) -> None:
        self._sink.warning(message)

    def write_verbose(self, message: str) -> None:
        self._sink.verbose(message)

    def progress(self, activity: str, status: str = "Processing", percent: int = -1, activity_id: int = 0,
                 current_operation: str | None = None, seconds_remaining: int = -1, completed: bool = False) -> None:
        self._sink.progress(activity, activity_id, status, current_operation, percent, seconds_remaining, completed)


def invocation_from(pipeline) -> Invocation:
    """The first command of a psrpcore PowerShell pipeline; later commands are only recorded."""
    cmds = list(pipeline.commands)
    first = cmds[0]
    inv = Invocation(command=str(first.command_text), is_script=bool(first.is_script),
                     extra_commands=[str(c.command_text) for c in cmds[1:]])
    for name, value in first.parameters:
        if name is None:
            inv.positional.append(to_python(value))
        else:
            inv.named.append((str(name), to_python(value)))
    if inv.is_script:
        marker = find_marker(inv.command)
        if marker:
            inv.op, inv.version = marker
        inv.declared = declared_params(inv.command)
    return inv


def _not_recognized(name: str) -> PowerShellError:
    return PowerShellError(
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. "
        "Check the spelling of the name, or if a path was included, verify that the path is correct and try again.",
        "CommandNotFoundException", "ObjectNotFound",
        exception_type="System.Management.Automation.CommandNotFoundException", target=name)


class Dispatcher:
    """Registry of operation handlers by marker name (`vmm.vm_list`)."""

    def __init__(self, *, strict_binding: bool = True) -> None:
        """`strict_binding`: bind arguments to the script's param block and refuse what PowerShell
        would refuse; False hands the named arguments over as sent (positional ones are refused)."""
        self._ops: dict[str, tuple[Handler, frozenset[int] | None]] = {}
        self._lock = threading.Lock()
        self.strict_binding = strict_binding

    def register(self, name: str, handler: Handler, *, versions: Iterable[int] | None = None,
                 replace: bool = False) -> None:
        """Register `handler` for marker `name`; `versions` limits the accepted `v<N>` (None: any)."""
        with self._lock:
            if name in self._ops and not replace:
                raise ValueError(f"operation {name!r} is already registered (pass replace=True to override)")
            self._ops[name] = (handler, None if versions is None else frozenset(versions))

    def operation(self, name: str, *, versions: Iterable[int] | None = None, replace: bool = False):
        """Decorator form of register()."""
        def deco(fn: Handler) -> Handler:
            self.register(name, fn, versions=versions, replace=replace)
            return fn
        return deco

    def unregister(self, name: str) -> None:
        with self._lock:
            self._ops.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._ops)

    def resolve(self, inv: Invocation) -> tuple[Handler, dict]:
        """The handler and bound parameters, or the PowerShellError PowerShell would raise."""
        if not inv.is_script:
            raise _not_recognized(inv.command)
        if inv.op is None:
            raise PowerShellError(
                "vmops simulator: the script has no '# op: <product>.<name> v<N>' marker line; "
                "the simulator runs no PowerShell, only registered operations",
                "VmopsSimulator.NoOperationMarker", "NotImplemented")
        with self._lock:
            entry = self._ops.get(inv.op)
        if entry is None:
            raise PowerShellError(f"vmops simulator: unknown operation '{inv.op}' (v{inv.version})",
                                  "VmopsSimulator.UnknownOperation", "NotImplemented", target=inv.op)
        handler, versions = entry
        if versions is not None and inv.version not in versions:
            known = ", ".join(f"v{v}" for v in sorted(versions))
            raise PowerShellError(f"vmops simulator: operation '{inv.op}' has no version v{inv.version} (known: {known})",
                                  "VmopsSimulator.UnknownOperationVersion", "NotImplemented", target=inv.op)
        if not self.strict_binding:
            inv = dataclasses.replace(inv, declared=None)
        try:
            params = bind(inv)
        except BindingError as exc:
            raise PowerShellError(exc.message, f"{exc.error_id}", exc.category,
                                  exception_type="System.Management.Automation.ParameterBindingException",
                                  target=exc.target) from None
        return handler, params

    @staticmethod
    def call(handler: Handler, params: dict, ctx: OperationContext) -> list:
        """Run the handler; a non-list result is one output object, None is no output."""
        result = handler(params, ctx)
        if result is None:
            return []
        if isinstance(result, (list, tuple)):
            return list(result)
        return [result]
