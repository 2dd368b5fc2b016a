"""The client examples in ``examples/`` work as written, against a live server: each
registers two users, sends a first message, sees it arrive as ``new-chat`` and delivered."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("script", ["first_message.py", "raw_client.py"])
async def test_the_example_client_receives_its_first_message_as_new_chat(server, script):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / script), server.url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"{script} did not finish") from None
    text = out.decode()
    assert proc.returncode == 0, (text, err.decode()[-3000:])
    lines = text.splitlines()
    assert any(line.startswith("ann: stored ") for line in lines), lines  # the ack may come after the events
    assert "bob: new chat with Ann Example: Hi Bob!" in lines, lines
    assert any(line.startswith("ann: delivered ") for line in lines), lines
