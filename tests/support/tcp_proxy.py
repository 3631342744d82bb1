"""A loopback TCP proxy a test cuts and restores: in front of a shared server (PostgreSQL) it is
that server going away for the processes behind it, and coming back on the same address.

Threads, not the test's event loop: the processes it serves are other processes, and the test's
loop may be busy (or blocked) while they talk through it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class CuttableProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`upstream_port`. `cut()` resets every open
    connection and stops listening (a connect is refused); `restore()` listens again."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.accepted = 0

    def url_for(self, url: str) -> str:
        """`url` (postgresql://user@127.0.0.1:5432/db) through this proxy."""
        return url.replace(f":{self.upstream_port}/", f":{self.port}/", 1)

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _reset(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # cut: the listener is closed
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut while connecting
                    _reset(client)
                    _reset(upstream)
                    continue
                self._open |= {client, upstream}
                self.accepted += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with self._lock:
                self._open.discard(sock)
            _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Close with RST (linger 0): the peer sees the connection broken, as when a server dies;
    the shutdown wakes the pump thread blocked reading it."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@contextmanager
def cuttable_proxy(upstream_port: int) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(upstream_port)
    proxy.restore()
    try:
        yield proxy
    finally:
        proxy.cut()
