"""HTTPS front end: one threading server per appliance, HTTP/1.1 keep-alive, TLS 1.2+.

Request flow: admin paths (/_sim/...) go to admin.py; API paths pass fault rules first, then
authentication, personality checks and the route table. Every answer has a Content-Length;
every error body is a TintriError.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import admin
from .api import ROUTES
from .errors import ApiError, session_invalid
from .routing import Ctx, Reply, Router
from .util import CoercionError

ROUTER = Router(ROUTES)
MAX_BODY = 64 << 20
PERSONALITY_ERRORS = {
    ("VMstoreOnly", True): "This API is supported only on Tintri VMstore, not on Tintri Global Center",
    ("TgcOnly", False): "This API is supported only on Tintri Global Center, not on Tintri VMstore",
}


def _token(headers) -> str | None:
    raw = headers.get_all("Cookie") or []
    for value in raw:
        try:
            jar = SimpleCookie()
            jar.load(value)
            if "JSESSIONID" in jar:
                return jar["JSESSIONID"].value
        except CookieError:
            for part in value.split(";"):
                k, _, v = part.strip().partition("=")
                if k == "JSESSIONID":
                    return v
    return None


def _check_support(app, support: str) -> None:
    cause = PERSONALITY_ERRORS.get((support, app.is_tgc))
    if cause:
        raise ApiError(501, "ERR-API-0005", "Request not supported.", cause, "Not implemented")


def _authenticate(ctx) -> None:
    s = ctx.app.sessions.lookup(ctx.token)
    if s is None:
        raise session_invalid("no session cookie" if not ctx.token else "the session is unknown or has expired")
    ctx.session = s


def dispatch(ctx) -> Reply:
    path = ctx.path
    if not path.startswith("/api/"):
        raise ApiError(404, "ERR-API-8001", "Resource not found", f"no such path: {path}")
    sub = path[4:]
    ctx.token = _token(ctx.headers)
    hit = ROUTER.match(ctx.method, sub)
    if hit is None or hit[0] == "405":
        doc = ROUTER.documented_match(ctx.method, sub)
        if sub.startswith("/v310/"):
            _authenticate(ctx)
        if doc is None:
            if hit is not None:
                raise ApiError(405, "ERR-API-0005", "Request not supported.", f"{ctx.method} is not allowed on {path}")
            raise ApiError(404, "ERR-API-8001", "Resource not found", f"no such API path: {path}")
        support, method_known = doc
        if not method_known:
            raise ApiError(405, "ERR-API-0005", "Request not supported.", f"{ctx.method} is not allowed on {path}")
        _check_support(ctx.app, support)
        raise ApiError(501, "ERR-API-0005", "Request not supported.",
                       f"{ctx.method} {path} is documented but not implemented by the Tintri simulator",
                       "Not implemented")
    route, params = hit
    ctx.params = params
    if route.auth:
        _authenticate(ctx)
    _check_support(ctx.app, route.support)
    if route.write and ctx.session and ctx.session["role"] in ("READ_ONLY", "Read Only"):
        raise ApiError(403, "ERR-API-6010", "API enforcement failed :",
                       f"user '{ctx.session['userName']}' has the read-only role and cannot {ctx.method} {path}",
                       "Forbidden")
    return route.handler(ctx)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Apache-Coyote/1.1"
    sys_version = ""
    timeout = 30  # idle keep-alive connections are closed after this

    def log_message(self, fmt, *args):  # to the lab log, never stdout/stderr
        self.server.lab.log.debug("%s %s", self.server.app.name, fmt % args)

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> int:
        if reply.empty:
            data = b""
        elif isinstance(reply.body, (bytes, bytearray)):
            data = bytes(reply.body)
        elif isinstance(reply.body, str):
            data = reply.body.encode()
        else:
            data = json.dumps(reply.body, separators=(",", ":")).encode()
        self.send_response(reply.status)
        if not reply.empty:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        # headers and body in one write: separate small writes stall on Nagle + delayed ACK
        self._headers_buffer.append(b"\r\n" + (data if self.command != "HEAD" else b""))
        self.flush_headers()
        return reply.status

    def _handle(self):
        server = self.server
        lab, app = server.lab, server.app
        started = time.time()
        parts = urlsplit(self.path)
        path, raw_query = parts.path, parts.query
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(Reply(400, ApiError(400, "ERR-API-0020", "Invalid input data", "malformed request body").body()))
            return
        if path.startswith("/_sim"):
            try:
                reply = admin.handle(lab, app, self.command, path, raw_query, body)
            except ApiError as exc:
                reply = Reply(exc.status, exc.body())
            except Exception as exc:  # never let a bad admin call kill the connection
                lab.log.exception("admin request failed")
                reply = Reply(500, {"error": str(exc)})
            self._send(reply)
            return

        def log(status):
            # logged before the answer leaves, so a client that reads the log next sees it
            lab.requests[app.name].add(app.name, self.command, path, raw_query, status,
                                       (time.time() - started) * 1000)

        hits = lab.faults[app.name].match_http(app.name, self.command, path)
        delay = sum(h.get("latency_ms", 0) for h in hits) / 1000.0
        if delay:
            time.sleep(delay)
        if any(h["action"] == "drop" for h in hits):
            log(0)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        err = next((h for h in hits if h["action"] == "error"), None)
        if err:
            reply = Reply(err["status"], ApiError(err["status"], err["code"], err["message"], err["cause"]).body())
        else:
            ctx = Ctx(lab, app, self.command, path, raw_query, self.headers, body, self.client_address[0])
            try:
                reply = dispatch(ctx)
            except ApiError as exc:
                reply = Reply(exc.status, exc.body())
            except CoercionError as exc:
                reply = Reply(400, ApiError(400, "ERR-API-0020", "Invalid input data", str(exc)).body())
            except Exception as exc:
                lab.log.exception("%s %s %s failed", app.name, self.command, path)
                reply = Reply(500, ApiError(500, "ERR-API-0007",
                                            "An internal server error occured while processing the API call",
                                            f"{type(exc).__name__}: {exc}").body())
        log(reply.status)
        self._send(reply)


class ApplianceServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, lab, app, ssl_context: ssl.SSLContext):
        self.lab = lab
        self.app = app
        self.ssl_context = ssl_context
        self._conns: set = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        # TLS handshake in the worker thread so a slow client never blocks accept()
        request.settimeout(10)
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.lab.log.debug("%s: TLS handshake from %s failed: %s", self.app.name, client_address, exc)
            return
        with self._conns_lock:
            self._conns.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self._conns_lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        self.lab.log.exception("%s: unhandled error for %s", self.app.name, client_address)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def make_ssl_context(pki) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(pki.cert_path, pki.key_path)
    return ctx
