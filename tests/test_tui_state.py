"""The terminal client's rules without a terminal: state fed with ``chatkit.client`` models and
events (unread badges, receipts, typing, presence, order, failed sends, the connection),
slash commands, and remembered profiles on disk."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from chatkit.client import (
    BlockState,
    Chat,
    ChatOpened,
    Connected,
    Disconnected,
    Message,
    MessageDelivered,
    MessageReceived,
    MessagesSeen,
    OnlineUsers,
    Peer,
    StoppedTyping,
    Typing,
    User,
)
from chatkit.tui import commands
from chatkit.tui.format import day_label, row_time
from chatkit.tui.profiles import Profile, ProfileStore
from chatkit.tui.state import AppState, Link, Receipt

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
ME = User("me", "Ann", "Lee", "Ann Lee", "ann@example.com", None, None, True, False, frozenset(), None, None, None)
BOB = Peer("bob", "Bob Ray", None)
CAT = Peer("cat", "Cat Day", None)
FREE = BlockState(False, False, False)


def message(mid: str, chat: str, *, mine: bool, minutes: int, content: str = "hi", kind: str = "text",
            delivered: bool = False, read: bool = False, client_id: str | None = None) -> Message:
    return Message(mid, chat, "me" if mine else "other", None, content, kind,  # type: ignore[arg-type]
                   delivered, read, T0 + timedelta(minutes=minutes), None, mine, client_id)


def chat(cid: str, peer: Peer, *messages: Message, unread: int = 0) -> Chat:
    return Chat(cid, peer, FREE, tuple(messages), unread, max((m.created_at for m in messages), default=None))


def state_with_two_chats() -> AppState:
    state = AppState(ME)
    state.load_chats([chat("c1", BOB, message("m1", "c1", mine=False, minutes=1), unread=1),
                      chat("c2", CAT, message("m2", "c2", mine=True, minutes=2))])
    return state


def test_a_listing_gives_order_and_unread_counts() -> None:
    state = state_with_two_chats()
    assert [c.id for c in state.ordered()] == ["c2", "c1"]
    assert state.chats["c1"].unread == 1
    assert [c.id for c in state.ordered("bob")] == ["c1"]


def test_a_message_in_a_closed_chat_bumps_the_badge_moves_the_chat_up_and_alerts() -> None:
    state = state_with_two_chats()
    change = state.apply(MessageReceived(message("m3", "c1", mine=False, minutes=5, content="ping")))
    assert state.chats["c1"].unread == 2
    assert [c.id for c in state.ordered()] == ["c1", "c2"]
    assert change.alert is not None and (change.alert.sender, change.alert.preview) == ("Bob Ray", "ping")
    again = state.apply(MessageReceived(message("m3", "c1", mine=False, minutes=5, content="ping"), recovered=True))
    assert state.chats["c1"].unread == 2 and again.alert is None  # the same message twice counts once


def test_the_open_chat_has_no_badge_and_no_alert() -> None:
    state = state_with_two_chats()
    state.open("c1")
    assert state.chats["c1"].unread == 0
    change = state.apply(MessageReceived(message("m3", "c1", mine=False, minutes=5)))
    assert state.chats["c1"].unread == 0 and change.alert is None and "c1" in change.chats


def test_my_own_messages_and_label_lines_never_alert() -> None:
    state = state_with_two_chats()
    assert state.apply(MessageReceived(message("m3", "c1", mine=True, minutes=5))).alert is None
    label = state.apply(MessageReceived(message("m4", "c1", mine=False, minutes=6, content="blocked", kind="Label")))
    assert label.alert is None and state.chats["c1"].unread == 1
    assert state.chats["c1"].block == BlockState(True, False, True)


def test_a_message_for_an_unknown_chat_asks_for_it_and_new_chat_makes_it() -> None:
    state = state_with_two_chats()
    change = state.apply(MessageReceived(message("m9", "c9", mine=False, minutes=9)))
    assert change.unknown_chat == "c9" and "c9" not in state.chats
    dan = Peer("dan", "Dan Fox", None)
    opened = state.apply(ChatOpened("c9", dan, message("m9", "c9", mine=False, minutes=9), "Dan Fox", 1))
    assert state.chats["c9"].peer == dan and state.chats["c9"].unread == 1
    assert opened.alert is not None and opened.alert.sender == "Dan Fox"


def test_receipts_go_sent_delivered_read_by_time() -> None:
    state = state_with_two_chats()
    state.apply(MessageReceived(message("a", "c1", mine=True, minutes=10)))
    state.apply(MessageReceived(message("b", "c1", mine=True, minutes=11)))
    c1 = state.chats["c1"]
    assert [c1.receipt(c1.messages[m]) for m in "ab"] == [Receipt.SENT, Receipt.SENT]
    state.apply(MessageDelivered("c1", "a", T0 + timedelta(minutes=10)))
    assert [c1.receipt(c1.messages[m]) for m in "ab"] == [Receipt.DELIVERED, Receipt.SENT]
    state.apply(MessagesSeen("c1", T0 + timedelta(minutes=12)))
    assert [c1.receipt(c1.messages[m]) for m in "ab"] == [Receipt.READ, Receipt.READ]
    state.apply(MessageDelivered("c1", "a", T0 + timedelta(minutes=10)))  # late: changes nothing back
    assert c1.receipt(c1.messages["a"]) == Receipt.READ


def test_a_send_is_pending_then_stored_or_failed_then_retried() -> None:
    state = state_with_two_chats()
    out = state.sending("c1", "cid-1", "hello", T0 + timedelta(minutes=20))
    c1 = state.chats["c1"]
    assert c1.receipt(out) == Receipt.SENDING and c1.timeline()[-1] is out
    state.send_failed("c1", "cid-1", "You can't send a message to a blocked user")
    assert c1.receipt(out) == Receipt.FAILED and c1.failed() == [out]
    assert state.retrying("c1", "cid-1") is out and c1.receipt(out) == Receipt.SENDING
    # the stored message (ack or its echo, whichever comes first) replaces the pending one
    state.apply(MessageReceived(message("m5", "c1", mine=True, minutes=20, content="hello", client_id="cid-1")))
    assert c1.outgoing == {} and c1.receipt(c1.messages["m5"]) == Receipt.SENT


def test_typing_comes_and_goes_and_a_message_ends_it() -> None:
    state = state_with_two_chats()
    state.apply(Typing("c1", "bob", "Bob Ray"))
    assert state.chats["c1"].typing == "Bob Ray"
    state.apply(StoppedTyping("c1", "bob", "Bob Ray"))
    assert state.chats["c1"].typing is None
    state.apply(Typing("c1", "bob", "Bob Ray"))
    state.apply(MessageReceived(message("m6", "c1", mine=False, minutes=30)))
    assert state.chats["c1"].typing is None
    state.apply(OnlineUsers(frozenset({"bob", "me"})))
    state.apply(Typing("c1", "bob", "Bob Ray"))
    state.apply(OnlineUsers(frozenset({"me"})))  # Bob went offline mid-word
    assert state.chats["c1"].typing is None


def test_presence_and_the_connection() -> None:
    state = state_with_two_chats()
    state.apply(OnlineUsers(frozenset({"bob", "me"})))
    assert [p.full_name for p in state.online_contacts()] == ["Bob Ray"]
    state.apply(Connected())
    assert state.link == Link.ONLINE
    change = state.apply(Disconnected("transport closed", reconnecting=True))
    assert state.link == Link.RECONNECTING and change.session_over is None and state.online == frozenset()
    state.apply(Connected(reconnected=True))
    assert state.link == Link.ONLINE
    ended = state.apply(Disconnected("Session ended, please login again", reconnecting=False))
    assert state.link == Link.OFFLINE and ended.session_over == "Session ended, please login again"
    state.closing = True  # our own hang-up is not news
    assert state.apply(Disconnected("closed", reconnecting=False)).session_over is None


def test_history_pages_merge_without_doubles_and_say_whether_more_exist() -> None:
    state = state_with_two_chats()
    page = [message(f"h{i}", "c1", mine=i % 2 == 0, minutes=-i) for i in range(3)] + \
        [message("m1", "c1", mine=False, minutes=1)]
    assert state.add_history("c1", page, more=False) == 3
    c1 = state.chats["c1"]
    assert [m.id for m in c1.timeline()] == ["h2", "h1", "h0", "m1"] and not c1.older_pages
    state.forget_chat("c1")
    assert c1.timeline() == [] and c1.unread == 0


def test_days_and_times_read_relative_to_today() -> None:
    today = date(2024, 6, 3)
    assert day_label(today, today) == "Today"
    assert day_label(date(2024, 6, 2), today) == "Yesterday"
    assert day_label(date(2024, 5, 1), today) == "Wednesday 1 May 2024"
    assert row_time(None, today) == ""


def test_slash_commands() -> None:
    assert commands.parse("hello") == "hello"
    assert commands.parse("//shrug") == "/shrug"
    assert commands.parse("/block") == commands.Command("block", "")
    assert commands.parse("/image ~/cat.png") == commands.Command("image", "~/cat.png")
    assert isinstance(commands.parse("/image"), commands.Mistake)
    mistake = commands.parse("/blok")
    assert isinstance(mistake, commands.Mistake) and "/blok" in mistake.reason


def test_profiles_are_private_per_server_and_account_and_can_be_forgotten(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "cfg" / "profiles.json")
    assert store.all() == []
    store.remember(Profile("http://a.example/", "ann@example.com", "Ann Lee", "t1"))
    store.remember(Profile("http://a.example", "bob@example.com", "Bob Ray", "t2"))
    store.remember(Profile("http://b.example", "ann@example.com", "Ann Lee", "t3"))
    store.remember(Profile("http://a.example", "ANN@example.com", "Ann Lee", "t4"))  # a new login replaces
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert [p.token for p in store.matching("http://a.example", "ann@example.com")] == ["t4"]
    assert len(store.matching(None, None)) == 3
    assert "t4" not in repr(store.all())
    assert [p.email for p in store.forget("http://a.example", "ann@example.com")] == ["ANN@example.com"]
    assert {(p.server, p.email) for p in store.all()} == {("http://a.example", "bob@example.com"),
                                                          ("http://b.example", "ann@example.com")}
    store.path.write_text("not json")
    assert store.all() == []  # unreadable: log in again, never a crash
