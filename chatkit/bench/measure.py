"""Numbers: percentiles, and what /proc says about a process (CPU seconds, memory).

Read from /proc rather than asked of the server, so the figures are the kernel's and
the server under test spends nothing on being measured; the generator's own CPU comes
from ``getrusage`` in each worker.
"""

from __future__ import annotations

import math
import os
import resource
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def percentile(ordered: list[float], p: float) -> float | None:
    """The nearest-rank percentile of already sorted values (None when there are none)."""
    if not ordered:
        return None
    rank = min(len(ordered), max(1, math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict[str, float | int | None]:
    """n, p50, p90, p99, max and mean of durations given in seconds, in milliseconds."""
    ordered = sorted(seconds)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 3)

    return {
        "n": len(ordered),
        "p50": ms(percentile(ordered, 50)),
        "p90": ms(percentile(ordered, 90)),
        "p99": ms(percentile(ordered, 99)),
        "max": ms(ordered[-1] if ordered else None),
        "mean": ms(sum(ordered) / len(ordered) if ordered else None),
    }


def own_cpu_seconds() -> float:
    """User + system CPU this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float
    rss_mb: float
    hwm_mb: float  # the kernel's high-water mark of the resident set (VmHWM)


def sample(pid: int) -> ProcSample | None:
    """CPU seconds and memory of ``pid`` now, or None when it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name may hold spaces and parentheses
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
          if line.startswith(("VmRSS:", "VmHWM:"))}
    return ProcSample(cpu, kb.get("VmRSS", 0) / 1024, kb.get("VmHWM", 0) / 1024)


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


class Watch:
    """The server's processes over one phase: CPU used between ``start`` and ``stop``,
    and the largest resident set seen by ``tick`` (called as often as the display is)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.first: dict[int, ProcSample | None] = {}
        self.last: dict[int, ProcSample | None] = {}
        self.peak_mb: dict[int, float] = dict.fromkeys(pids, 0.0)

    def start(self) -> None:
        self.first = {pid: sample(pid) for pid in self.pids}
        self.tick()

    def tick(self) -> None:
        for pid in self.pids:
            now = sample(pid)
            if now is not None:
                self.peak_mb[pid] = max(self.peak_mb[pid], now.rss_mb)

    def stop(self) -> None:
        self.tick()
        self.last = {pid: sample(pid) for pid in self.pids}

    def report(self, units: int, unit: str, wall_s: float) -> list[dict[str, object]]:
        """One row per process: CPU over the phase (per ``unit``: ``msg`` or ``connection``),
        memory at its start, peak and end (and, per connection, what the phase added)."""
        rows: list[dict[str, object]] = []
        for pid in self.pids:
            a, b = self.first.get(pid), self.last.get(pid)
            if a is None or b is None:
                rows.append({"pid": pid, "name": process_name(pid), "error": "cannot read /proc"})
                continue
            cpu = b.cpu_s - a.cpu_s
            row: dict[str, object] = {
                "pid": pid, "name": process_name(pid), "cpu_s": round(cpu, 3),
                f"cpu_ms_per_{unit}": round(cpu * 1000 / units, 4) if units else None,
                "cpu_util": round(cpu / wall_s, 3) if wall_s > 0 else None,
                "rss_mb_start": round(a.rss_mb, 1), "peak_rss_mb": round(self.peak_mb[pid], 1),
                "rss_mb_end": round(b.rss_mb, 1), "vm_hwm_mb": round(b.hwm_mb, 1),
            }
            if unit == "connection" and units:
                row["kb_per_connection"] = round((b.rss_mb - a.rss_mb) * 1024 / units, 1)
            rows.append(row)
        return rows
