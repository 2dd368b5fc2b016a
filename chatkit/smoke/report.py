"""What a smoke run found, and the two ways of showing it: a check list for people
(rich, one line per step as it finishes) and JSON for machines (``--json``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rich.console import Console
from rich.text import Text

Status = Literal["ok", "failed", "skipped"]

_MARKS: dict[Status, tuple[str, str]] = {"ok": ("ok", "green"), "failed": ("FAIL", "bold red"),
                                          "skipped": ("skip", "yellow")}


@dataclass(frozen=True)
class StepResult:
    name: str
    status: Status
    ms: float | None  # None: not run
    detail: str  # what was seen, or the server's answer that failed the step

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class SmokeUser:
    role: str  # "A" or "B"
    email: str
    id: str | None  # None: never logged in
    throwaway: bool


@dataclass(frozen=True)
class Report:
    server: str
    steps: tuple[StepResult, ...]
    users: tuple[SmokeUser, ...]
    ms: float

    @property
    def ok(self) -> bool:
        """Every step ran and passed."""
        return bool(self.steps) and all(step.ok for step in self.steps)

    @property
    def failed(self) -> StepResult | None:
        """The first step that failed (later ones were skipped, or were the clean-up)."""
        return next((step for step in self.steps if step.status == "failed"), None)

    def as_json(self) -> dict[str, Any]:
        failed = self.failed
        return {
            "ok": self.ok,
            "server": self.server,
            "failedStep": failed.name if failed else None,
            "ms": round(self.ms, 1),
            "users": [{"role": u.role, "email": u.email, "id": u.id, "throwaway": u.throwaway} for u in self.users],
            "steps": [{"name": s.name, "ok": s.ok, "status": s.status,
                       "ms": None if s.ms is None else round(s.ms, 1), "detail": s.detail} for s in self.steps],
        }


def print_header(console: Console, server: str, emails: tuple[str, str], throwaway: bool) -> None:
    kind = "throwaway users" if throwaway else "given accounts"
    console.print(Text(f"chatkit smoke against {server} ({kind} A={emails[0]}, B={emails[1]})"), soft_wrap=True)


def print_step(console: Console, step: StepResult) -> None:
    mark, style = _MARKS[step.status]
    ms = "" if step.ms is None else f"{step.ms:.0f} ms"
    line = Text.assemble((f"{mark:<5}", style), f"{step.name:<14}{ms:>9}  ", step.detail)
    console.print(line, soft_wrap=True)


def print_summary(console: Console, report: Report) -> None:
    passed = sum(step.ok for step in report.steps)
    failed = report.failed
    if failed is None and report.ok:
        console.print(Text(f"all {passed} steps passed in {report.ms / 1000:.2f} s", style="green"))
        return
    where = f"step {failed.name!r}: {failed.detail}" if failed else "no step ran"
    console.print(Text(f"FAILED at {where} ({passed} of {len(report.steps)} steps passed)", style="bold red"),
                  soft_wrap=True)
