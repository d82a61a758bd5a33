"""A small fault-injecting TCP proxy for the soak (processes -> proxy -> PostgreSQL/RabbitMQ).

Hand-written rather than Toxiproxy or ``tc netem``: Toxiproxy is a Go binary that is in
neither the lock file nor Debian's packages here, and ``tc netem`` needs root plus network
namespaces on a machine shared with other test runs; the soak needs just two faults on
loopback connections it owns, which a thread per direction does in ~100 lines:

- ``latency(seconds)``: every chunk forwarded waits that long first (both directions);
- ``reset_all()``: every open connection is cut with a TCP RST (SO_LINGER 0), as a
  network failure or a middlebox timeout would; new connections are accepted at once.
"""
from __future__ import annotations

import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1", listen_port: int = 0):
        self.upstream = (upstream_host, upstream_port)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", listen_port))
        self.server.listen(256)
        self.port = self.server.getsockname()[1]
        self.delay = 0.0
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._closed = threading.Event()
        self.resets = 0
        self.connections = 0
        threading.Thread(target=self._accept_loop, daemon=True, name=f"proxy-{self.port}").start()

    # --- faults ---------------------------------------------------------------------------
    def latency(self, seconds: float) -> None:
        self.delay = max(0.0, float(seconds))

    def heal(self) -> None:
        self.delay = 0.0

    def reset_all(self) -> int:
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            for sock in pair:
                _reset(sock)
        self.resets += len(pairs)
        return len(pairs)

    def close(self) -> None:
        self._closed.set()
        try:
            self.server.close()
        except OSError:
            pass
        self.reset_all()

    # --- forwarding -----------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _addr = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if self.delay:
                    time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                gone = pair in self._pairs
                self._pairs.discard(pair)
            if gone:
                for sock in pair:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    sock.close()


def _reset(sock: socket.socket) -> None:
    """Abortive close: SO_LINGER 0 makes the close send a RST; the shutdown first wakes the
    pump thread blocked in recv on it (otherwise it would hold the socket open)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
