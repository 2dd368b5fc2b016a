"""Run a local ``redis-server`` for ``chatkit serve --workers N``, owned like the local mongod.

Several chatkit processes share presence and Socket.IO rooms through Redis. When the
operator gives no ``--redis-url``, ``chatkit serve --workers N`` starts one itself, the
way it starts its own mongod: bound to 127.0.0.1 on a free port, its log and working
files under ``<data-dir>`` (``redis.log``, ``redis/``), the port recorded in
``redis.json`` so that ``redis-cli -p`` reaches it. It keeps nothing on disk (no RDB,
no AOF): what chatkit puts there is ephemeral and rebuilt by the processes themselves.

One owner per data dir (an exclusive ``flock`` on ``redis.lock``), and the redis-server
is tied to its owner with ``PR_SET_PDEATHSIG``, so nothing outlives a killed owner.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from chatkit.child_process import KILL_WAIT, die_with_parent, terminate
from chatkit.errors import OperatorError, UsageError
from chatkit.mongod import free_port

log = logging.getLogger(__name__)

READY_TIMEOUT = 15.0  # seconds a starting redis-server gets to answer PING
INSTALL_HINT = "install it (apt install redis-server) or pass --redis-url / set CHATKIT_REDIS_URL"


class RedisError(OperatorError):
    """The local redis-server could not be started or kept; the text says why."""


class RedisNotFound(UsageError):
    """No ``redis-server`` on PATH, and no ``--redis-url``: exit 2, like a missing mongod."""


def find_redis_server() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


def require_redis_server() -> Path:
    """The binary, or the one-line error that says how to get one."""
    binary = find_redis_server()
    if binary is None:
        raise RedisNotFound(f"--workers needs Redis and no redis-server is on PATH: {INSTALL_HINT}")
    return binary


@dataclass
class LocalRedis:
    """A redis-server this process started and owns; ``stop()`` ends it."""

    url: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    _command: list[str]
    _lock_file: IO[str] | None

    def exit_code(self) -> int | None:
        """The exit status once the redis-server died (negative: killed by that signal)."""
        return self.process.poll()

    def relaunch(self) -> None:
        """Start it again after it died, on the same port, so clients reconnect by themselves.

        Call it from the thread that started the first one (PR_SET_PDEATHSIG is per thread).
        """
        if self.exit_code() is None:
            raise RedisError("only a redis-server that has exited can be started again")
        log.info("starting redis-server again on 127.0.0.1:%d", self.port)
        try:
            self.process = _launch(self._command, self.data_dir)
        except OSError as exc:
            raise RedisError(f"cannot start redis-server: {exc.strerror or exc}") from None
        _write_state(self.data_dir, self.port, self.process.pid)

    def wait_ready(self, abort: threading.Event | None = None, timeout: float = READY_TIMEOUT) -> None:
        """Block until it answers PING (or raise ``RedisError``); a set ``abort`` gives up at once."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if abort is not None and abort.is_set():
                raise RedisError(f"stopped waiting for redis-server on port {self.port}")
            code = self.process.poll()
            if code is not None:
                raise RedisError(f"redis-server exited with code {code}{_last_log_line(self.data_dir)}")
            if _answers_ping(self.port):
                return
            time.sleep(0.05)
        self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(KILL_WAIT)
        raise RedisError(f"redis-server on port {self.port} did not answer within {timeout:.0f}s; "
                         f"see {self.data_dir / 'redis.log'}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL past ``timeout``; releases the data dir's redis lock."""
        terminate(self.process, timeout, "redis-server")
        with contextlib.suppress(OSError):
            (self.data_dir / "redis.json").unlink()
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None


def start(data_dir: Path, binary: Path | None = None) -> LocalRedis:
    """Start and own a redis-server for ``data_dir``; returns once it answers PING.

    Call it from the main thread: ``PR_SET_PDEATHSIG`` fires when the *thread* that
    started the child ends.
    """
    binary = binary or require_redis_server()
    data_dir = Path(data_dir)
    work = data_dir / "redis"
    work.mkdir(parents=True, exist_ok=True)
    lock_file = open(data_dir / "redis.lock", "a+")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        raise RedisError(f"another chatkit server is running a redis-server for {data_dir}; "
                         "stop it, or pass a different --data-dir") from None
    try:
        port = free_port()
        cmd = [
            str(binary), "--bind", "127.0.0.1", "--port", str(port), "--protected-mode", "yes",
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", str(work), "--logfile", str(data_dir / "redis.log"),
        ]
        log.info("starting redis-server on 127.0.0.1:%d (log in %s)", port, data_dir / "redis.log")
        try:
            proc = _launch(cmd, data_dir)
        except OSError as exc:
            raise RedisError(f"cannot start redis-server: {exc.strerror or exc}") from None
        local = LocalRedis(f"redis://127.0.0.1:{port}/0", port, data_dir, proc, cmd, lock_file)
    except BaseException:
        fcntl.flock(lock_file, fcntl.LOCK_UN)
        lock_file.close()
        raise
    try:
        local.wait_ready()
    except BaseException:
        local.stop(timeout=KILL_WAIT)
        raise
    _write_state(data_dir, port, proc.pid)
    return local


def _launch(cmd: list[str], data_dir: Path) -> subprocess.Popen[bytes]:
    # stdout/stderr to a file, not a pipe nobody drains; the real log is --logfile.
    with open(data_dir / "redis.stderr", "wb") as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, preexec_fn=die_with_parent)


def _write_state(data_dir: Path, port: int, pid: int) -> None:
    (data_dir / "redis.json").write_text(json.dumps({"port": port, "pid": pid, "ownerPid": os.getpid()}))


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _last_log_line(data_dir: Path) -> str:
    for name in ("redis.stderr", "redis.log"):
        with contextlib.suppress(OSError):
            lines = (data_dir / name).read_text(errors="replace").strip().splitlines()
            if lines:
                return f"; see {data_dir / 'redis.log'}: {lines[-1].strip()}"
    return f"; see {data_dir / 'redis.log'}"

