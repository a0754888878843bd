"""FaultProxy: a loopback TCP relay with faults switched on and off at run time.

It only relays bytes, so it sits in front of any TCP server, TLS included (clients still verify
the server's certificate: it is issued for localhost). Faults:

* ``drop(count=1, after_bytes=0)`` — the next ``count`` connections that carry more than
  ``after_bytes`` bytes from the client (counted from the moment the fault is armed, so pooled
  keep-alive connections count too) are cut: the first ``after_bytes`` bytes are relayed, then
  both sides are closed, and the client sees its request fail (an upload cut mid-part).
* ``latency(seconds)`` — a one-way delay whenever the traffic of a connection changes direction
  (so each request and each response waits once: a round trip costs 2 x seconds).
* ``refuse(seconds=None)`` — new connections are accepted and reset at once for ``seconds``
  (None: until ``clear()``); open connections carry on.
* ``cut_all()`` — close every open connection now. ``clear()`` — no faults.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from urllib.parse import urlsplit

CHUNK = 64 * 1024


class _Drop:
    def __init__(self, count: int, after_bytes: int):
        self.remaining = count
        self.after = after_bytes
        self.seen: dict[int, int] = {}


class _Conn:
    def __init__(self, cid: int, client: socket.socket, upstream: socket.socket):
        self.id = cid
        self.client = client
        self.upstream = upstream
        self.last_direction: str | None = None
        self.closed = False
        self.lock = threading.Lock()
        self.open_pumps = 2

    def close(self, reset: bool = False) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.upstream):
            if reset:
                _set_linger_zero(sock)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                sock.close()
            except OSError:
                pass


def _set_linger_zero(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


class FaultProxy:
    def __init__(self, target, listen_host: str = "127.0.0.1", port: int = 0, scheme: str | None = None,
                 connect_timeout: float = 10.0):
        """``target``: a URL (``https://localhost:PORT``), an endpoint dict with ``endpoint_url``, a
        server object (``S3Server``, ``MotoServer``), or a ``(host, port)`` tuple (then ``scheme``
        defaults to https)."""
        self._base_endpoint = None
        if isinstance(target, dict):
            self._base_endpoint = dict(target)
            target = target["endpoint_url"]
        elif hasattr(target, "endpoint_url"):
            self._base_endpoint = dict(getattr(target, "endpoint", None) or {}) or None
            target = target.endpoint_url
        if isinstance(target, str):
            parts = urlsplit(target)
            self.target = (parts.hostname or "localhost", parts.port or (443 if parts.scheme == "https" else 80))
            self.scheme = scheme or parts.scheme or "https"
        else:
            self.target = (target[0], int(target[1]))
            self.scheme = scheme or "https"
        self.listen_host = listen_host
        self.requested_port = int(port or 0)
        self.connect_timeout = connect_timeout
        self.port: int | None = None
        self._lock = threading.Lock()
        self._conns: dict[int, _Conn] = {}
        self._threads: set[threading.Thread] = set()
        self._next_id = 0
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._drop: _Drop | None = None
        self._latency = 0.0
        self._refuse_until: float | None = None
        self.stats = {"accepted": 0, "refused": 0, "dropped": 0, "cut": 0, "upstream_errors": 0,
                      "bytes_up": 0, "bytes_down": 0}

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.listen_host, self.requested_port))
        listener.listen(128)
        listener.settimeout(0.2)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._stopping.clear()
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"fault-proxy-{self.port}", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        listener, self._listener = self._listener, None
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
            self._accept_thread = None
        if listener is not None:
            listener.close()
        self.cut_all(count=False)
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def endpoint_url(self) -> str:
        return f"{self.scheme}://localhost:{self.port}"

    @property
    def endpoint(self) -> dict:
        """The target's endpoint dict (when built from one) with endpoint_url and port of the proxy."""
        data = dict(self._base_endpoint or {})
        data.update(endpoint_url=self.endpoint_url, port=self.port)
        return data

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._conns)

    # -- faults ----------------------------------------------------------------------------------

    def drop(self, count: int = 1, after_bytes: int = 0) -> None:
        with self._lock:
            self._drop = _Drop(int(count), int(after_bytes)) if count > 0 else None

    def latency(self, seconds: float) -> None:
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def refuse(self, seconds: float | None = None) -> None:
        with self._lock:
            self._refuse_until = float("inf") if seconds is None else time.monotonic() + float(seconds)

    def clear(self) -> None:
        with self._lock:
            self._drop, self._latency, self._refuse_until = None, 0.0, None

    @property
    def pending_drops(self) -> int:
        with self._lock:
            return self._drop.remaining if self._drop else 0

    def cut_all(self, count: bool = True) -> int:
        with self._lock:
            conns = list(self._conns.values())
        for conn in conns:
            conn.close(reset=True)
        if count:
            with self._lock:
                self.stats["cut"] += len(conns)
        return len(conns)

    # -- relay -----------------------------------------------------------------------------------

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=self._run_tracked, args=(target, *args), daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _run_tracked(self, target, *args) -> None:
        try:
            target(*args)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _accept_loop(self) -> None:
        listener = self._listener
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                time.sleep(0.05)
                continue
            with self._lock:
                refuse = self._refuse_until is not None and time.monotonic() < self._refuse_until
                if refuse:
                    self.stats["refused"] += 1
                else:
                    self.stats["accepted"] += 1
            if refuse:
                _set_linger_zero(client)
                client.close()
                continue
            self._spawn(self._open, client)

    def _open(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=self.connect_timeout)
        except OSError:
            with self._lock:
                self.stats["upstream_errors"] += 1
            _set_linger_zero(client)
            client.close()
            return
        client.settimeout(None)
        upstream.settimeout(None)
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._next_id += 1
            conn = _Conn(self._next_id, client, upstream)
            self._conns[conn.id] = conn
        if self._stopping.is_set():
            self._finish(conn)
            return
        self._spawn(self._pump, conn, "up")
        self._pump(conn, "down")

    def _finish(self, conn: _Conn) -> None:
        conn.close()
        with self._lock:
            self._conns.pop(conn.id, None)

    def _pump(self, conn: _Conn, direction: str) -> None:
        src, dst = (conn.client, conn.upstream) if direction == "up" else (conn.upstream, conn.client)
        try:
            while True:
                data = src.recv(CHUNK)
                if not data:
                    try:
                        dst.shutdown(socket.SHUT_WR)  # pass the half-close on
                    except OSError:
                        pass
                    break
                cut_at = None
                with self._lock:
                    latency = self._latency
                    rule = self._drop if direction == "up" else None
                    if rule is not None:
                        seen = rule.seen.get(conn.id, 0)
                        if seen + len(data) > rule.after:
                            cut_at = max(0, rule.after - seen)
                            rule.remaining -= 1
                            rule.seen.pop(conn.id, None)
                            self.stats["dropped"] += 1
                            if rule.remaining <= 0:
                                self._drop = None
                        else:
                            rule.seen[conn.id] = seen + len(data)
                if latency:
                    with conn.lock:
                        turn = conn.last_direction != direction
                        conn.last_direction = direction
                    if turn:
                        time.sleep(latency)
                if cut_at is not None:
                    if cut_at:
                        dst.sendall(data[:cut_at])
                        with self._lock:
                            self.stats["bytes_up"] += cut_at
                    conn.close(reset=True)
                    break
                dst.sendall(data)
                with self._lock:
                    self.stats["bytes_up" if direction == "up" else "bytes_down"] += len(data)
        except OSError:
            conn.close()
        finally:
            with conn.lock:
                conn.open_pumps -= 1
                last = conn.open_pumps == 0
            if last:
                self._finish(conn)
