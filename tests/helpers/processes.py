"""Chatkit as a real child process: ``chatkit serve`` started the way an operator starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

GUARD = 60  # seconds: only keeps a broken run from hanging the suite, never asserted on


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATKIT_")}
    env.update({"CHATKIT_BCRYPT_ROUNDS": "4", **extra})
    return env



class Server:
    """A ``chatkit serve`` child process; ``stop()`` sends SIGTERM (or Ctrl-C's SIGINT)."""

    def __init__(self, log_path: Path, args: list[str], env: dict[str, str]) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "chatkit", "serve", *args], env=env,
                stdout=subprocess.PIPE, stderr=log, text=True,
            )
        line = self.proc.stdout.readline()  # the server prints its URL once it listens
        assert line.startswith("chatkit serving on http://"), (line, self.log())
        self.url = line.split()[3]  # "chatkit serving on URL[ with N workers]"
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.http.close()
        self.proc.send_signal(sig)
        return self.proc.wait(GUARD)


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts until it is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
