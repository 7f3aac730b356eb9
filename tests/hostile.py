"""Hostile clients and hosts, shared by tests/test_server_load.py and benchmarks/load.py (issue 21).

A stalled upload (a body declared whole, most of it sent, then silence), an image host that trickles
a byte at a time, and the server's resident memory read from /proc. Loopback only.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from pathlib import Path

from .servers import free_allowed_port

DECLARED_BODY_BYTES = 16_000_000  # the review's: under the largest legal request (16,065,536 bytes)
STALLED_BODY_BYTES = 15_000_000


def stalled_upload(port: int, path: str, guard_s: float) -> bytes:
    """POST ``path`` declaring 16,000,000 bytes, send 15,000,000, then nothing: what the server
    answers until it closes the connection (b"" for a bare close). ``guard_s``: a hang guard only."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {DECLARED_BODY_BYTES}\r\n\r\n"
    ).encode()
    opening = b'{"image": {"bytes": "'
    body = opening + b"A" * (STALLED_BODY_BYTES - len(opening))
    with socket.create_connection(("127.0.0.1", port), timeout=guard_s) as sock:
        with contextlib.suppress(OSError):  # refused and closed while sending: also an answer
            sock.sendall(head + body)  # blocks while the server keeps this body waiting for room
        received = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                received += chunk
        return received


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    """A process's resident size (VmRSS) or its peak since the last reset (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def reset_peak(pid: int) -> int:
    """Resets the server's VmHWM to its current resident size (as tests/memory.py does); returns that size."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return rss_kb(pid)


class TricklingHost:
    """An image host that accepts, reads the request and sends one byte every 0.2 s until released;
    counts the connections it holds at once. Released, it closes them and every later one at once."""

    def __init__(self) -> None:
        self.port = free_allowed_port()
        self.listener = socket.create_server(("127.0.0.1", self.port), backlog=128)
        self.released = threading.Event()
        self.open_now = 0
        self.most_at_once = 0
        self.seen = 0
        self.first = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with self._lock:
            self.open_now += 1
            self.seen += 1
            self.most_at_once = max(self.most_at_once, self.open_now)
        self.first.set()
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            while not self.released.is_set():
                # Readable here means the server closed its end (it sends nothing more): count it gone at once.
                if select.select([conn], [], [], 0.2)[0] and not conn.recv(1):
                    break
                conn.sendall(b"\x89")
        except OSError:
            pass
        finally:
            with self._lock:
                self.open_now -= 1
            conn.close()

    def close(self) -> None:
        self.released.set()
        self.listener.close()
