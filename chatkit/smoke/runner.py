"""Running the steps: each timed and bounded, the first failure stops the checks, and the
final steps (retire throwaway users, log out) run whatever happened before them."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

from chatkit.client import ChatkitError
from chatkit.smoke.report import Report, SmokeUser, StepResult
from chatkit.smoke.state import Mismatch, Run, SmokeOptions
from chatkit.smoke.steps import Step, final_steps, main_steps

log = logging.getLogger("chatkit.smoke")

StepHook = Callable[[StepResult], Awaitable[None] | None]
GRACE = 1.0  # seconds past --timeout before a step is cut off (its own waits end at --timeout)


async def run_smoke(options: SmokeOptions, on_step: StepHook | None = None) -> Report:
    """Run every step against ``options.server``; ``on_step`` is told of each result as it
    comes (and awaited before the next step starts)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    run = Run(options)
    results: list[StepResult] = []

    async def record(result: StepResult) -> None:
        results.append(result)
        if on_step is not None:
            told = on_step(result)
            if inspect.isawaitable(told):
                await told

    try:
        failed = False
        for name, step in main_steps(options.throwaway):
            if failed:
                await record(StepResult(name, "skipped", None, "not run: an earlier step failed"))
                continue
            result = await _attempt(run, name, step)
            failed = not result.ok
            await record(result)
        for name, step in final_steps(options.throwaway):
            if any(side.has_session for side in run.sides):
                await record(await _attempt(run, name, step))
            else:
                await record(StepResult(name, "skipped", None, "not run: no user is logged in"))
    finally:
        await run.close()
    users = tuple(SmokeUser(side.name, side.credentials.email, side.user.id if side.user else None,
                            options.throwaway) for side in run.sides)
    return Report(options.server, tuple(results), users, (loop.time() - started) * 1000)


async def _attempt(run: Run, name: str, step: Step) -> StepResult:
    loop = asyncio.get_running_loop()
    started = loop.time()
    run.deadline = started + run.options.timeout
    try:
        detail = await asyncio.wait_for(step(run), run.options.timeout + GRACE)
    except Exception as exc:  # every failure is this step's finding, reported
        log.debug("step %s failed", name, exc_info=True)
        return StepResult(name, "failed", (loop.time() - started) * 1000, describe(exc, run.options.timeout))
    return StepResult(name, "ok", (loop.time() - started) * 1000, detail)


def describe(exc: Exception, timeout: float) -> str:
    """The server's answer (status and message), or what went wrong instead."""
    if isinstance(exc, ChatkitError):
        return f"{exc.status} {exc.message}" if exc.status is not None else exc.message
    if isinstance(exc, Mismatch):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g}s"
    return f"{type(exc).__name__}: {exc}"
