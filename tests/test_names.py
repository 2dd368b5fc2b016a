"""Names as other users see them: NFC-normalised, without bidi controls, never invisible.

A name made only of invisible characters (zero-width, format, fillers, lone combining
marks) would show as a blank sender; a bidi control such as U+202E would reverse the
text shown after the name. Both are refused or removed at registration and when an
operator creates an account.
"""

from __future__ import annotations

import json

from tests.helpers.constants import AUTH, PASSWORD
from tests.helpers.failures import assert_error

INVISIBLE = "must contain a visible character"

REFUSED = [
    # (label, firstName, message)
    ("right-to-left override only", "\u202e", "must not be empty"),
    ("bidi isolates only", "\u2066\u2067\u2068\u2069", "must not be empty"),
    ("marks LRM RLM ALM only", "\u200e\u200f\u061c", "must not be empty"),
    ("zero-width space", "\u200b", INVISIBLE),
    ("zero-width joiners and BOM", "\u200b\u200c\u200d\u2060\ufeff", INVISIBLE),
    ("Hangul filler", "\u3164", INVISIBLE),
    ("halfwidth Hangul filler", "\uffa0", INVISIBLE),
    ("blank Braille pattern", "\u2800", INVISIBLE),
    ("a lone combining accent", "\u0301", INVISIBLE),
    ("soft hyphen and invisible times", "\u00ad\u2062", INVISIBLE),
    ("override hiding a zero-width space", "\u202e\u200b\u202c", INVISIBLE),
    ("Mongolian vowel separator", "\u180e", INVISIBLE),
]

PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645"  # the joiner belongs to the spelling
CLEANED = [
    # (label, firstName sent, firstName stored)
    ("override before the name", "\u202enaJ", "naJ"),
    ("embedding around the name", "\u202bAnn\u202c", "Ann"),
    ("isolate inside the name", "An\u2067n", "Ann"),
    ("decomposed accent", "Jose\u0301", "Jos\u00e9"),
    ("decomposed Hangul", "\u1112\u1161\u11ab", "\ud55c"),
    ("Arabic with a right-to-left mark", "\u200f\u0639\u0644\u064a", "\u0639\u0644\u064a"),
    ("zero-width joiner inside an emoji", "\U0001f469\u200d\U0001f4bb", "\U0001f469\u200d\U0001f4bb"),
    ("Persian zero-width non-joiner", PERSIAN, PERSIAN),
]


def _register_body(first: str, last: str = "Lee", email: str = "ann@example.com") -> dict[str, str]:
    return {"firstName": first, "lastName": last, "email": email, "password": PASSWORD}


async def test_invisible_names_are_refused_and_nothing_is_stored(api, db):
    for label, first, message in REFUSED:
        r = await api.post(AUTH + "/register", json=_register_body(first))
        assert_error(r, 400, f"firstName {message}", label=label)
        r = await api.post(AUTH + "/register", json=_register_body("Ann", last=first))
        assert_error(r, 400, f"lastName {message}", label=label)
    assert await db.users.count_documents({}) == 0
    r = await api.post(AUTH + "/register", json=_register_body("Ann"))
    assert r.status_code == 201, r.text


async def test_names_are_normalised_and_stripped_of_bidi_controls(api, db):
    for i, (label, sent, stored) in enumerate(CLEANED):
        email = f"user{i}@example.com"
        r = await api.post(AUTH + "/register", json=_register_body(sent, last=sent, email=email))
        assert r.status_code == 201, (label, r.text)
        data = r.json()["data"]
        assert (data["firstName"], data["lastName"]) == (stored, stored), label
        me = (await api.get(AUTH + "/me", headers={"Authorization": data["token"]})).json()["data"]
        assert (me["firstName"], me["lastName"]) == (stored, stored), label
        doc = await db.users.find_one({"email": email})
        assert (doc["firstName"], doc["lastName"]) == (stored, stored), label


async def test_the_admin_cli_holds_names_to_the_same_rules(admin_cli, db):
    def create(first: str):
        return admin_cli("users", "create", "--email", "ann@example.com", "--first-name", first,
                         "--last-name", "Lee", "--password", PASSWORD, "--json")

    refused = await create("\u200b\u2060")
    assert refused.exit_code == 1 and refused.stdout == "", (refused.stdout, refused.stderr)
    # with --json the one error line is JSON (issue 12)
    assert json.loads(refused.stderr) == {"error": f"firstName {INVISIBLE}", "exitCode": 1}
    assert await db.users.count_documents({}) == 0

    created = await create("\u202enaJ")
    assert created.exit_code == 0, (created.stdout, created.stderr)
    assert json.loads(created.stdout)["firstName"] == "naJ"
