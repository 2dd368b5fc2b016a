"""``chatkit smoke``: a post-deploy check that walks the wire contract end to end.

Two users (throwaway ones, or accounts the operator names) talk to a running server
through :mod:`chatkit.client` only, exactly as an app would: register or log in,
connect, chat, receipts, typing, viewing, an image, blocking, clearing, listings and
log-out. Each step is timed and reported; the first failure names the step and the
server's answer. Nothing here touches the database or imports server code: the
server may be on another machine.
"""

from chatkit.smoke.report import Report, StepResult
from chatkit.smoke.runner import StepHook, run_smoke
from chatkit.smoke.state import Credentials, SmokeOptions, throwaway_accounts

__all__ = [
    "Credentials",
    "Report",
    "SmokeOptions",
    "StepHook",
    "StepResult",
    "run_smoke",
    "throwaway_accounts",
]
