"""`PsrpServer`, a loopback WinRM endpoint for pypsrp: request handling and the WS-Man actions.

Request flow: `/_sim/...` -> the control API; `/wsman` -> Basic auth, fault rules, SOAP parsing,
the shell action, the answer (200, or 500 with a SOAP fault like WinRM). Pipelines run in worker
threads (one per pipeline, at most max_runspaces at a time per pool) so a handler may block
without holding up other pipelines or the HTTP threads.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import secrets
import threading
import time
import uuid
from urllib.parse import urlsplit

from psrpcore.types import PSVersion

from . import admin, wsman
from .control import Faults, Journal, PipelineRecord, Rule
from .dispatch import Dispatcher, OperationContext, PowerShellError, invocation_from
from .records import to_ps, to_python
from .runspace import Command, Shell
from .transport import Handler, HTTPServer, ssl_context
from .wsman import WSManFault

log = logging.getLogger("simulators.psrp")
DEFAULT_CONFIGURATIONS = ("Microsoft.PowerShell",)


def _private_data() -> dict:
    """ApplicationPrivateData of Windows PowerShell 5.1 on Windows Server 2019, what VMM runs on."""
    return {"PSVersionTable": {
        "PSVersion": PSVersion("5.1.17763.1007"),
        "PSEdition": "Desktop",
        "PSCompatibleVersions": [PSVersion(v) for v in ("1.0", "2.0", "3.0", "4.0", "5.0", "5.1.17763.1007")],
        "CLRVersion": PSVersion("4.0.30319.42000"),
        "BuildVersion": PSVersion("10.0.17763.1007"),
        "WSManStackVersion": PSVersion("3.0"),
        "PSRemotingProtocolVersion": PSVersion("2.3"),
        "SerializationVersion": PSVersion("1.1.0.1"),
    }}


class PsrpServer:
    """A WinRM/PSRP endpoint on 127.0.0.1 that pypsrp talks to unchanged.

    Clients use `WSMan(host, port=server.port, path="wsman", auth="basic", encryption="never",
    ssl=False, username=..., password=...)`. Operations come from `dispatcher` (or `register()`).
    """

    def __init__(self, username: str = "vmops", password: str | None = None, dispatcher: Dispatcher | None = None,
                 *, host: str = "127.0.0.1", port: int = 0, machine: str = "VMM01",
                 configurations: tuple[str, ...] = DEFAULT_CONFIGURATIONS, max_operation_timeout: float = 60.0,
                 max_envelope_kb: int = 500, pki=None):
        self.username = username
        self.password = password if password is not None else secrets.token_urlsafe(16)
        self.dispatcher = dispatcher or Dispatcher()
        self.host = host
        self.machine = machine
        self.configurations = tuple(configurations)
        self.max_operation_timeout = max_operation_timeout
        self.max_envelope_kb = max_envelope_kb
        self.pki = pki  # a simulators.pki.LabPKI: HTTPS with the lab certificate (5986-style) instead of HTTP
        self.faults = Faults()
        self.journal = Journal()
        self._requested_port = port
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._shells: dict[str, Shell] = {}
        self._workers: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> PsrpServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        context = ssl_context(self.pki) if self.pki is not None else None
        self._httpd = HTTPServer((self.host, self._requested_port), Handler, self, context)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"psrp-http-{self.port}", daemon=True)
        self._thread.start()
        log.info("PSRP simulator listening on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, close every shell (stopping their pipelines) and join all threads."""
        httpd = self._httpd
        if httpd is None:
            return
        self._stopping.set()
        with self._lock:
            shells = list(self._shells.values())
            self._shells.clear()
        for shell in shells:
            shell.close()
        httpd.shutdown()
        deadline = time.monotonic() + timeout
        httpd.close(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            workers = list(self._workers)
        for t in workers:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                log.warning("pipeline thread %s did not end (a handler that ignores ctx.cancelled?)", t.name)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> PsrpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        scheme = "https" if self.pki is not None else "http"
        return f"{scheme}://{self.host}:{self.port}/wsman"

    @property
    def endpoint(self) -> dict:
        """Everything a client needs, in pypsrp's WSMan keyword names: `WSMan(**server.endpoint)`."""
        ep = {"server": self.host, "port": self.port, "path": "wsman", "ssl": self.pki is not None, "auth": "basic",
              "encryption": "never" if self.pki is None else "auto", "username": self.username,
              "password": self.password}
        if self.pki is not None:
            ep["cert_validation"] = self.pki.ca_path
        return ep

    # -- operations, faults, observability ----------------------------------------------------------

    def register(self, name: str, handler, *, versions=None, replace: bool = False) -> None:
        self.dispatcher.register(name, handler, versions=versions, replace=replace)

    def drop(self, count: int | None = 1, action: str | None = None, when: str = "before") -> Rule:
        """Close the TCP connection without an answer on the next `count` requests (of `action`).
        `when="after"` processes the request first, so its effect happens and only the answer is lost."""
        if when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        return self.faults.add(Rule("drop", action=action, count=count, when=when))

    def delay(self, seconds: float, count: int | None = None, action: str | None = None) -> Rule:
        """Hold each matching request `seconds` before processing it."""
        return self.faults.add(Rule("delay", action=action, count=count, seconds=seconds))

    def http_error(self, status: int = 503, count: int | None = 1, action: str | None = None) -> Rule:
        """Answer matching requests with a bare HTTP error (a proxy or an overloaded listener)."""
        return self.faults.add(Rule("http_error", action=action, count=count, status=status))

    def fail_next(self, op: str, error: PowerShellError, count: int | None = 1) -> Rule:
        """Make the next `count` invocations of operation `op` fail with `error` (terminating)."""
        return self.faults.add(Rule("fail_op", op=op, count=count, error=error))

    def clear_faults(self) -> None:
        self.faults.clear()

    def stats(self) -> dict:
        snap = self.journal.snapshot()
        with self._lock:
            snap["shells_open"] = len(self._shells)
        return snap

    @property
    def pipelines(self) -> list[PipelineRecord]:
        return self.journal.records()

    def operations(self, op: str | None = None) -> list[tuple[str | None, dict]]:
        """(operation, bound parameters) per pipeline, in the order they arrived."""
        return [(p.op, p.params) for p in self.journal.records() if op is None or p.op == op]

    def reset_stats(self) -> None:
        self.journal.reset()

    # -- HTTP ---------------------------------------------------------------------------------------

    def _authorized(self, header: str | None) -> str | None:
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        # Windows account names are case-insensitive, passwords are not
        ok_user = hmac.compare_digest(user.lower().encode(), self.username.lower().encode())
        ok_password = hmac.compare_digest(password.encode(), self.password.encode())
        return user if ok_user and ok_password else None

    def _handle(self, h: Handler) -> None:
        path = urlsplit(h.path).path
        try:
            body = h.read_body()
        except (ValueError, OSError):
            h.close_connection = True
            h.reply(400)
            return
        if path.startswith("/_sim"):
            admin.handle(self, h, path, body)
            return
        if path.rstrip("/") != "/wsman":
            h.reply(404)
            return
        if h.command != "POST":
            h.reply(405, headers={"Allow": "POST"})
            return
        user = self._authorized(h.headers.get("Authorization"))
        if user is None:
            self.journal.count("unauthorized")
            h.reply(401, headers={"WWW-Authenticate": 'Basic realm="WSMAN"'})
            return
        if (h.headers.get("Content-Type") or "").lower().startswith("multipart/"):
            # message encryption (NTLM/Kerberos/CredSSP sealing) is not simulated; see README
            h.reply(400)
            return
        try:
            req = wsman.parse(body)
        except WSManFault as fault:
            h.reply(500, wsman.fault_envelope(fault, None, self.machine))
            return
        self.journal.request(req.name)
        rules = self.faults.for_request(req.name)
        delay = sum(r.seconds for r in rules if r.kind == "delay")
        if delay:
            self._stopping.wait(delay)
        if any(r.kind == "drop" and r.when == "before" for r in rules):
            self.journal.count("dropped")
            h.drop()
            return
        error = next((r for r in rules if r.kind == "http_error"), None)
        if error is not None:
            h.reply(error.status)
            return
        status, payload = self._process(req, user, h.client_address[0])
        if any(r.kind == "drop" and r.when == "after" for r in rules):
            self.journal.count("dropped")
            h.drop()
            return
        self.journal.response(len(payload))
        h.reply(status, payload)

    def _process(self, req: wsman.Request, user: str, client_ip: str) -> tuple[int, bytes]:
        try:
            if req.name == "Create":
                body = self._create(req, user, client_ip)
            elif req.name == "Get":
                body = self._get(req)
            elif req.name in ("Command", "Send", "Receive", "Signal", "Delete"):
                body = getattr(self, "_" + req.name.lower())(req, self._shell(req))
            else:
                raise wsman.action_not_supported(req.action)
            return 200, wsman.envelope(wsman.RESPONSE_ACTIONS[req.name], req.message_id, body)
        except WSManFault as fault:
            return 500, wsman.fault_envelope(fault, req.message_id, self.machine)

    # -- WS-Man actions -----------------------------------------------------------------------------

    def _shell(self, req: wsman.Request) -> Shell:
        shell_id = req.shell_id
        if not shell_id:
            raise wsman.invalid_selectors()
        with self._lock:
            shell = self._shells.get(shell_id)
        if shell is None:
            raise wsman.shell_not_found(req.selectors.get("ShellId", shell_id))
        shell.note_envelope(req.max_envelope)
        return shell

    def _create(self, req: wsman.Request, user: str, client_ip: str) -> str:
        uri = req.resource_uri
        if not uri.startswith(wsman.POWERSHELL_URI):
            raise wsman.invalid_resource_uri(uri)
        name = uri[len(wsman.POWERSHELL_URI):]
        if name not in self.configurations:
            raise wsman.unknown_configuration(name, self.machine)
        el = req.body
        if el is None or el.tag != f"{{{wsman.RSP}}}Shell":
            raise wsman.schema_error("a Create of a PowerShell shell needs an rsp:Shell body")
        creation = el.find(f"{{{wsman.PWSH}}}creationXml")
        if creation is None or not (creation.text or "").strip():
            raise wsman.schema_error("the rsp:Shell has no creationXml (the PSRP session capability and pool init)")
        try:
            data = base64.b64decode(creation.text.strip(), validate=True)
        except binascii.Error:
            raise wsman.schema_error("creationXml is not base64") from None
        shell_id = (el.get("ShellId") or str(uuid.uuid4())).upper()
        idle = wsman.duration(el.findtext(f"{{{wsman.RSP}}}IdleTimeOut"))
        shell = Shell(shell_id, uri, user, client_ip, self._launch, _private_data(), idle)
        with self._lock:
            if shell_id in self._shells:
                raise wsman.already_exists(shell_id)
            self._shells[shell_id] = shell
        try:
            shell.note_envelope(req.max_envelope)
            shell.open(data)
        except BaseException:
            with self._lock:
                self._shells.pop(shell_id, None)
            raise
        self.journal.count("shells_created")
        return wsman.create_body(self.url, uri, shell.info())

    def _get(self, req: wsman.Request) -> str:
        if req.resource_uri == wsman.CONFIG_RESOURCE:
            return wsman.config_body(self.max_envelope_kb, int(self.max_operation_timeout * 1000))
        if req.resource_uri == wsman.SHELL_RESOURCE:
            return wsman.shell_xml(self._shell(req).info())
        raise wsman.invalid_resource_uri(req.resource_uri)

    def _command(self, req: wsman.Request, shell: Shell) -> str:
        el = req.body
        if el is None or el.tag != f"{{{wsman.RSP}}}CommandLine":
            raise wsman.schema_error("a Command needs an rsp:CommandLine body")
        command_id = el.get("CommandId") or str(uuid.uuid4()).upper()
        data = b"".join(self._b64(a.text) for a in el.iterfind(f"{{{wsman.RSP}}}Arguments"))
        shell.new_command(command_id.upper(), data)
        return wsman.command_body(command_id)

    def _send(self, req: wsman.Request, shell: Shell) -> str:
        el = req.body
        if el is None or el.tag != f"{{{wsman.RSP}}}Send":
            raise wsman.schema_error("a Send needs an rsp:Send body")
        for stream in el.iterfind(f"{{{wsman.RSP}}}Stream"):
            if stream.text:
                shell.send(stream.get("CommandId"), self._b64(stream.text))
        return "<rsp:SendResponse/>"

    def _receive(self, req: wsman.Request, shell: Shell) -> str:
        desired = req.body.find(f"{{{wsman.RSP}}}DesiredStream") if req.body is not None else None
        if desired is None:
            raise wsman.schema_error("a Receive needs an rsp:DesiredStream")
        command_id = desired.get("CommandId")
        timeout = min(req.timeout if req.timeout is not None else self.max_operation_timeout,
                      self.max_operation_timeout)
        streams, done = shell.receive(command_id, req.max_envelope, timeout)
        return wsman.receive_body(streams, command_id, done)

    def _signal(self, req: wsman.Request, shell: Shell) -> str:
        el = req.body
        if el is None or el.tag != f"{{{wsman.RSP}}}Signal" or not el.get("CommandId"):
            raise wsman.schema_error("a Signal needs an rsp:Signal body with a CommandId")
        shell.signal(el.get("CommandId"), (el.findtext(f"{{{wsman.RSP}}}Code") or "").strip())
        return "<rsp:SignalResponse/>"

    def _delete(self, req: wsman.Request, shell: Shell) -> str:
        with self._lock:
            self._shells.pop(shell.id, None)
        shell.close()
        return ""

    @staticmethod
    def _b64(text: str | None) -> bytes:
        try:
            return base64.b64decode((text or "").strip(), validate=True)
        except binascii.Error:
            raise wsman.schema_error("stream data is not base64") from None

    # -- pipelines ----------------------------------------------------------------------------------

    def _launch(self, shell: Shell, cmd: Command) -> None:
        t = threading.Thread(target=self._run, args=(shell, cmd), name=f"psrp-pipeline-{cmd.id[:8]}", daemon=True)
        with self._lock:
            self._workers = {w for w in self._workers if w.is_alive()}
            self._workers.add(t)
        t.start()

    def _run(self, shell: Shell, cmd: Command) -> None:
        try:
            inv = invocation_from(cmd.metadata)
        except Exception as exc:
            log.exception("pipeline %s: unreadable CreatePipeline", cmd.id)
            shell.fail(cmd, PowerShellError(f"vmops simulator: unreadable pipeline: {exc}",
                                            "VmopsSimulator.UnreadablePipeline", "InvalidData").record())
            return
        record = self.journal.pipeline(PipelineRecord(
            op=inv.op, version=inv.version, params=dict(inv.named), command=inv.command.strip().splitlines()[0][:200]
            if inv.command.strip() else "", shell_id=shell.id, pipeline_id=str(cmd.pipeline_id).upper(),
            username=shell.owner))
        ctx = None
        try:
            handler, params = self.dispatcher.resolve(inv)
            record.params = params
            if not shell.acquire(cmd):
                return
            injected = self.faults.failure_for(inv.op)
            if injected is not None:
                raise injected
            ctx = OperationContext(op=inv.op, version=inv.version, script=inv.command, params=params,
                                   shell_id=shell.id, pipeline_id=record.pipeline_id, username=shell.owner,
                                   session=shell.session, cancelled=cmd.cancelled, sink=cmd, pipeline_input=[to_python(v) for v in cmd.input])
            outputs = Dispatcher.call(handler, params, ctx)
            shell.complete(cmd, [to_ps(o) for o in outputs])
            record.outputs = len(outputs)
        except PowerShellError as exc:
            record.error, record.error_id = exc.message, exc.error_id
            shell.fail(cmd, exc.record())
        except Exception as exc:  # a handler bug becomes a PowerShell error, never a hung pipeline
            log.exception("operation %s failed", inv.op)
            err = PowerShellError(f"vmops simulator: the handler of '{inv.op}' raised {type(exc).__name__}: {exc}",
                                  "VmopsSimulator.HandlerFailed", "NotSpecified")
            record.error, record.error_id = err.message, err.error_id
            shell.fail(cmd, err.record())
        finally:
            shell.release(cmd)
            if ctx is not None:
                record.errors = ctx.errors
            record.state = cmd.state
            record.finished = time.time()
