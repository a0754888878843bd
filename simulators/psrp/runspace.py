"""Runspace pools and pipelines: psrpcore's sans-IO server objects behind WinRS shells and commands.

One `Shell` per WS-Man shell holds a psrpcore `ServerRunspacePool`; one `Command` per WS-Man
command holds a `ServerPipeline`. Every call into psrpcore happens under the shell's lock (the
pool object is not thread-safe and all pipelines share its buffers). Outgoing messages are cut
into PSRP fragments at once and queued per target (the pool itself or one pipeline), because a
Receive names one target and must get only its fragments.
"""

from __future__ import annotations

import base64
import collections
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable

from psrpcore import (
    CreatePipelineEvent,
    EndOfPipelineInputEvent,
    GetAvailableRunspacesEvent,
    GetCommandMetadataEvent,
    PipelineInputEvent,
    PSRPPayload,
    ResetRunspaceStateEvent,
    ServerPipeline,
    ServerRunspacePool,
    SetMaxRunspacesEvent,
    SetMinRunspacesEvent,
    StreamType,
)
from psrpcore.types import ProgressRecordType, PSInvocationState, RunspacePoolState

from . import wsman
from .records import error_record

log = logging.getLogger("simulators.psrp")

# Windows PowerShell cuts its messages into 32 KiB fragments (header included), as seen on the wire.
FRAGMENT_SIZE = 32768
_FRAGMENT_HEADER = 21
_TERMINAL = (PSInvocationState.Completed, PSInvocationState.Failed, PSInvocationState.Stopped)


class _Pipeline(ServerPipeline):
    def start(self) -> None:
        # Windows sends no PipelineState message for Running (only the final state), so neither do we.
        self._change_state(PSInvocationState.Running, emit=False)

    def fail(self, error) -> None:
        self._change_state(PSInvocationState.Failed, error)

    def halt(self) -> None:
        """Stopped without a state message: the client terminated the command and reads no more."""
        self._change_state(PSInvocationState.Stopped, emit=False)


def split_fragments(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i + _FRAGMENT_HEADER <= len(data):
        length = int.from_bytes(data[i + 17:i + 21], "big")
        out.append(data[i:i + _FRAGMENT_HEADER + length])
        i += _FRAGMENT_HEADER + length
    return out


def peek_pipeline_id(data: bytes) -> uuid.UUID | None:
    """The pipeline id of the message starting in the first fragment (GUIDs are little-endian on the wire)."""
    if len(data) < _FRAGMENT_HEADER + 40 or not data[16] & 0x1:
        return None
    return uuid.UUID(bytes_le=bytes(data[_FRAGMENT_HEADER + 24:_FRAGMENT_HEADER + 40]))


def _b64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


class Command:
    """A WS-Man command = one PSRP pipeline. Also the output sink handed to OperationContext."""

    def __init__(self, shell: Shell, command_id: str, pipeline_id: uuid.UUID):
        self.shell = shell
        self.id = command_id
        self.pipeline_id = pipeline_id
        self.pipeline = _Pipeline(shell.pool, pipeline_id)
        self.input: list = []
        self.input_done = False
        self.created = False
        self.ready = False
        self.finished = False  # the final PipelineState is queued
        self.removed = False
        self.has_slot = False
        self.cancelled = threading.Event()

    @property
    def metadata(self):
        return self.pipeline.metadata

    @property
    def state(self) -> str:
        return self.pipeline.state.name

    def _emit(self, fn: Callable[[], None]) -> None:
        with self.shell.lock:
            if self.finished or self.pipeline.state != PSInvocationState.Running:
                return  # stopped or closed meanwhile: the client no longer listens
            fn()
            self.shell.pump()

    def output(self, obj) -> None:
        self._emit(lambda: self.pipeline.write_output(obj))

    def error(self, record) -> None:
        self._emit(lambda: self.pipeline.prepare_message(record))

    def warning(self, message: str) -> None:
        self._emit(lambda: self.pipeline.write_warning(message))

    def verbose(self, message: str) -> None:
        self._emit(lambda: self.pipeline.write_verbose(message))

    def progress(self, activity, activity_id, status, current_operation, percent, seconds_remaining, completed) -> None:
        record_type = ProgressRecordType.Completed if completed else ProgressRecordType.Processing
        self._emit(lambda: self.pipeline.write_progress(
            activity, activity_id, status or " ", current_operation, percent_complete=percent,
            record_type=record_type, seconds_remaining=seconds_remaining))


class Shell:
    """A WS-Man shell = one PSRP runspace pool."""

    def __init__(self, shell_id: str, resource_uri: str, owner: str, client_ip: str,
                 launch: Callable[[Shell, Command], None], private_data: dict, idle_timeout: float | None = None):
        self.id = shell_id
        self.resource_uri = resource_uri
        self.owner = owner
        self.client_ip = client_ip
        self.idle_timeout = idle_timeout or 7200.0
        self.created = time.monotonic()
        self.last_activity = self.created
        self.pool = ServerRunspacePool(application_private_data=private_data)
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.queues: dict[uuid.UUID | None, collections.deque[bytes]] = {None: collections.deque()}
        self.commands: dict[str, Command] = {}
        self.by_pipeline: dict[uuid.UUID, Command] = {}
        self.session: dict = {}  # per-pool state for handlers (what session variables are in PowerShell)
        self.running = 0
        self.closed = False
        self.fragment_size = FRAGMENT_SIZE
        self._launch = launch

    # -- feeding client data into psrpcore ---------------------------------------------------------

    def note_envelope(self, max_envelope: int) -> None:
        """Fragments are cut before the Receive that carries them, so they must fit the smallest
        MaxEnvelopeSize this client has used."""
        fits = (max_envelope - wsman.RECEIVE_OVERHEAD - wsman.STREAM_OVERHEAD) * 3 // 4
        with self.lock:
            self.fragment_size = max(_FRAGMENT_HEADER + 64, min(self.fragment_size, fits))

    def open(self, creation: bytes) -> None:
        with self.lock:
            self._feed(creation, None)

    def new_command(self, command_id: str, data: bytes) -> Command:
        with self.lock:
            self._check_open()
            pipeline_id = peek_pipeline_id(data)
            if pipeline_id is None:
                raise wsman.schema_error("the Command arguments hold no start of a PSRP message")
            old = self.by_pipeline.get(pipeline_id) or self.commands.get(command_id)
            if old is not None:
                if not old.finished:
                    raise wsman.already_exists(command_id)
                self._remove(old)  # a re-invocation of a finished pipeline that was never terminated
            cmd = Command(self, command_id, pipeline_id)
            self.commands[command_id] = cmd
            self.by_pipeline[pipeline_id] = cmd
            self.queues[pipeline_id] = collections.deque()
            self._feed(data, cmd)
            return cmd

    def send(self, command_id: str | None, data: bytes) -> None:
        with self.lock:
            self._check_open()
            cmd = self._command(command_id) if command_id else None
            self._feed(data, cmd)

    def _check_open(self) -> None:
        if self.closed:
            raise wsman.shell_not_found(self.id)
        self.last_activity = time.monotonic()

    def _command(self, command_id: str) -> Command:
        cmd = self.commands.get(command_id.upper())
        if cmd is None:
            raise wsman.command_not_found()
        return cmd

    def _feed(self, data: bytes, cmd: Command | None) -> None:
        self.pool.receive_data(PSRPPayload(data, StreamType.default, cmd.pipeline_id if cmd else None))
        while True:
            try:
                event = self.pool.next_event()
            except Exception as exc:  # a message psrpcore cannot read must not hang the client
                log.warning("shell %s: unreadable PSRP data: %s", self.id, exc)
                self._unreadable(cmd, exc)
                break
            if event is None:
                break
            self._on_event(event)
        self.pump()

    def _unreadable(self, cmd: Command | None, exc: Exception) -> None:
        message = f"vmops simulator: the server could not read the PSRP message: {exc}"
        record = error_record(message, "VmopsSimulator.UnreadableMessage", "InvalidData")
        if cmd is not None and not cmd.finished:
            if cmd.pipeline.state == PSInvocationState.NotStarted:
                cmd.pipeline.start()
            cmd.pipeline.fail(record)
            cmd.finished = True
        elif self.pool.state == RunspacePoolState.Opened:
            self.pool.set_broken(record)
        else:
            raise wsman.schema_error(message) from exc

    def _on_event(self, event) -> None:
        cmd = self.by_pipeline.get(event.pipeline_id) if event.pipeline_id else None
        if isinstance(event, CreatePipelineEvent) and cmd is not None:
            cmd.created = True
            if event.pipeline.no_input or cmd.input_done:
                self._ready(cmd)
        elif isinstance(event, PipelineInputEvent) and cmd is not None:
            cmd.input.append(event.data)
        elif isinstance(event, EndOfPipelineInputEvent) and cmd is not None:
            cmd.input_done = True
            if cmd.created:
                self._ready(cmd)
        elif isinstance(event, GetCommandMetadataEvent) and cmd is not None:
            cmd.pipeline.start()
            cmd.pipeline.fail(error_record("vmops simulator: GetCommandMetadata is not implemented",
                                           "VmopsSimulator.NotImplemented", "NotImplemented"))
            cmd.finished = True
        elif isinstance(event, (SetMaxRunspacesEvent, SetMinRunspacesEvent, ResetRunspaceStateEvent)):
            self.pool.runspace_availability_response(event.ci, True)
            self.cond.notify_all()  # a larger pool frees waiting pipelines
        elif isinstance(event, GetAvailableRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, max(0, self.pool.max_runspaces - self.running))
        # SessionCapability, InitRunspacePool and PublicKey are answered by psrpcore itself;
        # host responses are not expected (the simulator makes no host calls).

    def _ready(self, cmd: Command) -> None:
        if cmd.ready:
            return
        cmd.ready = True
        cmd.pipeline.start()
        self._launch(self, cmd)

    def pump(self) -> None:
        """Move psrpcore's outgoing messages, as fragments, to the queue of their target."""
        while True:
            payload = self.pool.data_to_send(self.fragment_size)
            if payload is None:
                break
            queue = self.queues.get(payload.pipeline_id)
            if queue is None:  # the pipeline was terminated meanwhile
                continue
            queue.extend(split_fragments(payload.data))
        self.cond.notify_all()

    # -- pipeline execution (worker threads) -------------------------------------------------------

    def acquire(self, cmd: Command) -> bool:
        """Wait for a free runspace, like a pool with max_runspaces busy runspaces queues work."""
        with self.cond:
            while not (self.closed or cmd.cancelled.is_set()) and self.running >= max(1, self.pool.max_runspaces):
                self.cond.wait()
            if self.closed or cmd.cancelled.is_set():
                return False
            self.running += 1
            cmd.has_slot = True
            return True

    def release(self, cmd: Command) -> None:
        with self.cond:
            if cmd.has_slot:
                cmd.has_slot = False
                self.running -= 1
                self.cond.notify_all()

    def complete(self, cmd: Command, outputs: list) -> None:
        with self.lock:
            if cmd.finished or cmd.pipeline.state != PSInvocationState.Running:
                return
            for obj in outputs:
                cmd.pipeline.write_output(obj)
            cmd.pipeline.complete()
            cmd.finished = True
            self.pump()

    def fail(self, cmd: Command, record) -> None:
        with self.lock:
            if cmd.finished or cmd.pipeline.state != PSInvocationState.Running:
                return
            cmd.pipeline.fail(record)
            cmd.finished = True
            self.pump()

    # -- WS-Man Receive / Signal / Delete -----------------------------------------------------------

    def receive(self, command_id: str | None, max_envelope: int, timeout: float) -> tuple[list[str], bool]:
        """Fragments for the pool (no command id) or one pipeline, as base64 stream texts, and
        whether the command is done. Waits up to `timeout` for data, then faults TimedOut."""
        deadline = time.monotonic() + timeout
        with self.cond:
            self._check_open()
            cmd = self._command(command_id) if command_id else None
            key = cmd.pipeline_id if cmd else None
            while True:
                if self.closed:
                    raise wsman.shell_not_found(self.id)
                if cmd is not None and cmd.removed:
                    raise wsman.command_not_found()
                queue = self.queues.get(key)
                if queue:
                    return self._take(queue, max_envelope), cmd is not None and cmd.finished and not queue
                if cmd is not None and cmd.finished:
                    return [], True
                left = deadline - time.monotonic()
                if left <= 0:
                    raise wsman.timed_out()
                self.cond.wait(left)

    @staticmethod
    def _take(queue: collections.deque[bytes], max_envelope: int) -> list[str]:
        budget = max_envelope - wsman.RECEIVE_OVERHEAD
        streams: list[str] = []
        while queue:
            cost = wsman.STREAM_OVERHEAD + _b64_len(len(queue[0]))
            if streams and cost > budget:
                break
            budget -= cost
            streams.append(base64.b64encode(queue.popleft()).decode("ascii"))
        return streams

    def signal(self, command_id: str, code: str) -> None:
        with self.cond:
            self._check_open()
            cmd = self._command(command_id)
            if code == wsman.SIGNAL_TERMINATE:
                self._stop(cmd, emit=False)
                self._remove(cmd)
            elif code in (wsman.SIGNAL_PS_CTRL_C, wsman.SIGNAL_CTRL_C):
                self._stop(cmd, emit=True)
            self.pump()

    def _stop(self, cmd: Command, emit: bool) -> None:
        cmd.cancelled.set()
        if cmd.finished:
            return
        if cmd.pipeline.state == PSInvocationState.Running and emit:
            cmd.pipeline.stop()  # PipelineState Stopped with PowerShell's PipelineStoppedException record
        elif cmd.pipeline.state == PSInvocationState.Running:
            cmd.pipeline.halt()
        cmd.finished = True

    def _remove(self, cmd: Command) -> None:
        cmd.cancelled.set()
        cmd.removed = True
        if self.commands.get(cmd.id) is cmd:
            del self.commands[cmd.id]
        if self.by_pipeline.get(cmd.pipeline_id) is cmd:
            del self.by_pipeline[cmd.pipeline_id]
            self.queues.pop(cmd.pipeline_id, None)
        if cmd.pipeline.state in _TERMINAL or cmd.pipeline.state == PSInvocationState.NotStarted:
            cmd.pipeline.close()
        self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            for cmd in list(self.commands.values()):
                cmd.cancelled.set()
            self.cond.notify_all()

    def info(self) -> dict:
        now = time.monotonic()
        return {
            "ShellId": self.id,
            "ResourceUri": self.resource_uri,
            "Owner": self.owner,
            "ClientIP": self.client_ip,
            "ProcessId": os.getpid(),
            "IdleTimeOut": f"PT{self.idle_timeout:.3f}S",
            "InputStreams": "stdin pr",
            "OutputStreams": "stdout",
            "MaxIdleTimeOut": "PT2147483.647S",
            "Locale": "en-US",
            "DataLocale": "en-US",
            "CompressionMode": "NoCompression",
            "ProfileLoaded": "Yes",
            "Encoding": "UTF8",
            "BufferMode": "Block",
            "State": "Connected",
            "ShellRunTime": _duration(now - self.created),
            "ShellInactivity": _duration(now - self.last_activity),
        }


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"P{s // 86400}DT{s % 86400 // 3600}H{s % 3600 // 60}M{s % 60}S"
