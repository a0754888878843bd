"""HTTP transport: a threading HTTP/1.1 server with keep-alive, optional TLS, and clean shutdown.

Every connection thread is tracked so `close()` can wake the ones blocked on idle keep-alive
connections and join them; requests go to `server.sim._handle(handler)`.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("simulators.psrp")
MAX_BODY = 64 << 20
SOAP_TYPE = "application/soap+xml;charset=UTF-8"


def ssl_context(pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.cert_path, pki.key_path)
    return context


class HTTPServer(ThreadingHTTPServer):
    # daemon threads never keep the interpreter alive, but socketserver does not join them on
    # server_close(), so they are tracked here and joined by close()
    daemon_threads = True

    def __init__(self, address, handler, sim, ssl_context: ssl.SSLContext | None):
        self.sim = sim
        self.ssl_context = ssl_context
        self.connections: set[socket.socket] = set()
        self.conn_threads: set[threading.Thread] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        t = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                             name=f"psrp-conn-{client_address[1]}", daemon=True)
        with self.conn_lock:
            self.connections.add(request)
            self.conn_threads = {c for c in self.conn_threads if c.is_alive()}
            self.conn_threads.add(t)
        t.start()

    def finish_request(self, request, client_address):
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        # TLS handshake in the connection thread so a slow client never blocks accept()
        request.settimeout(10)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake from %s failed: %s", client_address, exc)
            return
        with self.conn_lock:
            self.connections.discard(request)
            self.connections.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            with self.conn_lock:
                self.connections.discard(conn)
            conn.close()

    def handle_error(self, request, client_address):
        # a client that went away mid-answer (or a dropped connection) is not worth a traceback on stderr
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def shutdown_request(self, request):
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close(self, timeout: float) -> None:
        """Close the listener, wake threads blocked on keep-alive connections and join them."""
        self.server_close()
        with self.conn_lock:
            conns = list(self.connections)
            threads = list(self.conn_threads)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are closed after this

    def setup(self):
        super().setup()
        # answers are written as headers + body; without this they stall on Nagle + delayed ACK
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # to the logger, never stdout/stderr
        log.debug("%s %s", self.address_string(), fmt % args)

    def do_POST(self):
        self.server.sim._handle(self)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_POST

    def read_body(self) -> bytes:
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

    def reply(self, status: int, body: bytes = b"", content_type: str = SOAP_TYPE, headers: dict | None = None):
        self.send_response(status)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
