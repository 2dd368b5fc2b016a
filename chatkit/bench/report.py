"""Showing a run: a live progress line while it goes, then a table or the JSON report.

The progress goes to stderr (and only to a terminal), so ``--json`` output on stdout
stays one clean document whatever the terminal.
"""

from __future__ import annotations

import json
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

# every report has these top-level keys (tests and BENCHMARKS.md rely on them)
KEYS = ("mode", "target", "url", "params", "setup", "messages", "throughput", "latency_ms", "generator",
        "server", "events", "host")


class LiveDisplay:
    """A one-line live view: phase, sent / received / lost, the receive rate."""

    def __init__(self, total: int | None, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, markup=False, emoji=False, highlight=False)
        self.enabled = self.console.is_terminal
        self.total = total
        self.text = "starting"
        self.counts = (0, 0, 0)
        self.since = time.perf_counter()
        self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)

    def __enter__(self) -> LiveDisplay:
        if self.enabled:
            self.live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.enabled:
            self.live.stop()

    def phase(self, text: str) -> None:
        self.text = text
        self.since = time.perf_counter()
        self._refresh()

    def update(self, sent: int, received: int, lost: int) -> None:
        self.counts = (sent, received, lost)
        self._refresh()

    def _refresh(self) -> None:
        if self.enabled:
            self.live.update(self._render())

    def _render(self) -> Text:
        sent, received, lost = self.counts
        elapsed = time.perf_counter() - self.since
        line = Text(f"bench: {self.text}  ", style="bold")
        if sent:
            of = f"/{self.total}" if self.total else ""
            line.append(f"sent {sent}{of}  received {received}  lost {lost}  ")
            if elapsed > 0:
                line.append(f"{received / elapsed:,.0f} msg/s", style="cyan")
        return line


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2)


def table(report: dict[str, Any]) -> Table:
    """The report as a two-column table for people."""
    out = Table(title=f"chatkit bench: {report['mode']} against {report['target']} at {report['url']}",
                show_header=False, title_justify="left")
    out.add_column("what", style="bold")
    out.add_column("value")
    p, s, m, t, lat, g = (report[k] for k in ("params", "setup", "messages", "throughput", "latency_ms",
                                                "generator"))
    out.add_row("parameters", ", ".join(f"{k}={v}" for k, v in p.items() if v is not None))
    out.add_row("setup", f"{s['users']} users in {s['provision_s']} s; {s['sockets']} sockets in "
                         f"{s['connect_s']} s (connect p50 {s['connect_ms']['p50']} ms, "
                         f"p99 {s['connect_ms']['p99']} ms, max {s['connect_ms']['max']} ms)")
    if report["mode"] != "connections":
        out.add_row("messages", f"sent {m['sent']}, received {m['received']}, lost {m['lost']}, "
                                f"duplicated {m['duplicates']}, out of order {m['out_of_order']}, "
                                f"late {m['late']}, errors {m['errors']}")
        out.add_row("throughput", f"{t['msgs_per_s']} msg/s over {t['wall_s']} s")
        out.add_row("latency (ms)", f"p50 {lat['p50']}, p90 {lat['p90']}, p99 {lat['p99']}, max {lat['max']}")
    out.add_row("generator", f"{g['cpu_s']} CPU s running, {g['setup_cpu_s']} CPU s connecting, in "
                             f"{g['processes']} process(es)"
                             + (f"; {g['cpu_util']} cores busy while running" if g["cpu_util"] is not None else ""))
    for row in report["server"]:
        if "error" in row:
            out.add_row(f"pid {row['pid']}", str(row["error"]))
            continue
        per = (f"{row['cpu_ms_per_msg']} CPU ms/msg" if "cpu_ms_per_msg" in row
               else f"{row['cpu_ms_per_connection']} CPU ms/connection, {row.get('kb_per_connection')} KiB/connection")
        out.add_row(f"{row['name']} ({row['pid']})",
                    f"{row['cpu_s']} CPU s, {per}; RSS {row['rss_mb_start']} → peak {row['peak_rss_mb']} MiB")
    h = report["host"]
    out.add_row("host", f"{h['cpus']} CPUs, 1-minute load {h['load_1m_start']} before, {h['load_1m_end']} after")
    if m["error_samples"]:
        out.add_row("error samples", "\n".join(m["error_samples"]))
    return out
