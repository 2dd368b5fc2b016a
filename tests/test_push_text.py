"""A long message is cut for its notification without breaking a character in two."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatkit.domain.push.text import BODY_LIMIT, ELLIPSIS, cut, is_boundary

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji of five code points
FLAG_FR, FLAG_DE = "\U0001f1eb\U0001f1f7", "\U0001f1e9\U0001f1ea"  # two regional indicators each
THUMBS_DARK = "\U0001f44d\U0001f3ff"  # with a skin tone
KEYCAP_1 = "1\ufe0f\u20e3"
E_ACUTE = "e\u0301"  # e + combining acute

pieces = st.sampled_from([FAMILY, FLAG_FR, FLAG_DE, THUMBS_DARK, KEYCAP_1, E_ACUTE, " ", "a", "ß", "\u200d",
                          "\U0001f1eb", "\u0301", "한"])
texts = st.lists(st.one_of(pieces, st.text(max_size=3)), max_size=120).map("".join)


@given(texts, st.integers(min_value=2, max_value=BODY_LIMIT))
def test_the_cut_keeps_characters_whole(text: str, limit: int) -> None:
    out = cut(text, limit)
    assert len(out) <= limit
    if len(text) <= limit:
        assert out == text
        return
    assert out.endswith(ELLIPSIS)
    kept = out[: -len(ELLIPSIS)]
    assert text.startswith(kept)
    assert is_boundary(text, len(kept)), (text, kept)


WHOLE = [FAMILY, FLAG_FR, FLAG_DE, THUMBS_DARK, KEYCAP_1, E_ACUTE, "a", " ", "ß", "한", "\U0001f600"]


@given(st.lists(st.sampled_from(WHOLE), max_size=80), st.integers(min_value=2, max_value=40))
def test_the_cut_falls_between_the_characters_a_reader_sees(chars: list[str], limit: int) -> None:
    """Checked against how the text was built (one string per visible character),
    independently of the cutting code's own notion of a boundary."""
    text = "".join(chars)
    out = cut(text, limit)
    offsets = {sum(len(c) for c in chars[:i]) for i in range(len(chars) + 1)}
    kept = out[: -len(ELLIPSIS)] if out != text else out
    assert len(kept) in offsets, (chars, out)


def test_examples() -> None:
    assert cut("short") == "short"
    assert cut("x" * 7 + FAMILY, 10) == "x" * 7 + ELLIPSIS  # not a half family
    assert cut("x" * 6 + FLAG_FR + FLAG_DE + "y", 10) == "x" * 6 + FLAG_FR + ELLIPSIS  # flags stay pairs
    assert cut("x" * 7 + FLAG_FR + FLAG_DE, 10) == "x" * 7 + FLAG_FR + ELLIPSIS
    assert cut("x" * 8 + FLAG_FR + "y", 10) == "x" * 8 + ELLIPSIS
    assert cut("abcdefgh" + E_ACUTE + "zz", 10) == "abcdefgh" + ELLIPSIS  # the accent stays on its e
    assert cut("hello wonderful world", 12) == "hello" + ELLIPSIS  # on a word where one is near
