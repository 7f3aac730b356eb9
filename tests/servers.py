"""Start `python -m facereco serve` for real, on loopback, for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_allowed_port() -> int:
    """A free loopback port among those image URLs may name (the contract allows 10000-12000)."""
    for port in range(11000, 12000):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port in 11000-11999")


@dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(data_dir: Path, appkeys: list[str], *extra: str, port: int | None = None) -> RunningServer:
    port = port or free_port()
    log_path = data_dir.parent / f"server-{port}.log"
    args = [
        sys.executable,
        "-m",
        "facereco",
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--warm",
        *extra,
    ]
    for key in appkeys:
        args += ["--appkey", key]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = RunningServer(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            if requests.get(f"{server.base_url}/healthz", timeout=1).ok:
                return server
        except requests.RequestException:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start:\n{server.log()}")


def stop_server(server: RunningServer, hard: bool = False) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextmanager
def running_server(data_dir: Path, appkeys: list[str], *extra: str) -> Iterator[RunningServer]:
    server = start_server(data_dir, appkeys, *extra)
    try:
        yield server
    finally:
        stop_server(server)


@contextmanager
def serving_in_thread(app) -> Iterator[str]:
    """An ASGI app served for real by uvicorn on a free loopback port, in this process (so a test's
    changes to the contract reach it); yields the base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the in-process server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
