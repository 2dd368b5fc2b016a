"""The operators' side of accounts by email: ``users verify``, ``users show`` and ``mails``."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.helpers.constants import AUTH, PASSWORD
from tests.helpers.mailbox import MAIL
from tests.helpers.waiting import wait_until


@pytest.mark.parametrize("settings", [MAIL], indirect=True)
async def test_operator_sees_mails_and_verifies_an_account_by_hand(api, mailbox, admin):
    email = f"ann.{uuid.uuid4().hex[:8]}@example.com"
    r = await api.post(AUTH + "/register", json={"firstName": "Ann", "lastName": "Lee", "email": email,
                                                 "password": PASSWORD})
    assert r.status_code == 200, r.text
    [mail] = await mailbox.wait_for(email)

    shown = json.loads((await admin("users", "show", email, "--json")).stdout)
    assert shown["isVerified"] is False

    async def sent() -> list[dict]:
        listed = json.loads((await admin("mails", "--status", "sent", "--json")).stdout)
        return listed["mails"]

    [row] = await wait_until(sent, what="the mail listed as sent")
    assert row["to"] == email and row["kind"] == "verify" and row["status"] == "sent" and row["attempts"] == 1
    assert mail.code not in json.dumps(row)  # never the body, nor the code

    refused = await admin("mails", "--status", "lost", ok=False)
    assert refused.exit_code == 2

    await admin("users", "verify", email)
    assert json.loads((await admin("users", "show", email, "--json")).stdout)["isVerified"] is True
    r = await api.post(AUTH + "/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["data"]["token"], r.text
