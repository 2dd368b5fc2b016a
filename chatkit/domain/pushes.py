"""Where ``Sending`` finds the push outbox; the push machinery lives in ``chatkit.domain.push``."""

from __future__ import annotations

from chatkit.domain.push.outbox import PushOutbox

__all__ = ["PushOutbox"]
