"""The login screen: remembered accounts to pick, the login form, and a registration form.

It only collects what the user typed and posts it (:class:`LoginSubmitted`,
:class:`RegisterSubmitted`, :class:`ProfilePicked`); the app logs in and says how it
went with :meth:`LoginScreen.say`.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from chatkit.tui.messages import LoginSubmitted, ProfilePicked, RegisterSubmitted
from chatkit.tui.profiles import Profile


class LoginScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "toggle_register", "Log in / Register"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, server: str, *, email: str | None = None, profiles: list[Profile] | None = None,
                 reason: str | None = None) -> None:
        super().__init__()
        self.server = server
        self.email = email or ""
        self.profiles = profiles or []
        self.reason = reason
        self.registering = False

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="login-box"):
            yield Static("chatkit", id="login-title")
            if self.profiles:
                yield Label("Remembered accounts (Enter to continue)")
                yield OptionList(*[Option(p.label, id=str(i)) for i, p in enumerate(self.profiles)],
                                 id="profiles")
            yield Label("Server")
            yield Input(self.server, id="server")
            with Horizontal(id="names"):
                yield Input(placeholder="First name", id="first-name")
                yield Input(placeholder="Last name", id="last-name")
            yield Label("Email")
            yield Input(self.email, placeholder="you@example.com", id="email")
            yield Label("Password")
            yield Input(placeholder="password", password=True, id="password")
            with Horizontal(id="login-actions"):
                yield Button("Log in", variant="primary", id="submit")
                yield Button("Create an account instead", id="switch")
            yield Static(self.reason or "", id="login-message", classes="error" if self.reason else "")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#names").display = False
        if self.profiles:
            self.query_one("#profiles", OptionList).focus()
        elif self.email:
            self.query_one("#password", Input).focus()
        else:
            self.query_one("#email", Input).focus()

    def say(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#login-message", Static)
        message.update(text)
        message.set_class(error, "error")

    def busy(self, busy: bool) -> None:
        self.query_one("#submit", Button).disabled = busy

    def action_toggle_register(self) -> None:
        self.registering = not self.registering
        self.query_one("#names").display = self.registering
        self.query_one("#submit", Button).label = "Create account" if self.registering else "Log in"
        self.query_one("#switch", Button).label = ("Log in instead" if self.registering
                                                   else "Create an account instead")
        if self.registering:
            self.query_one("#first-name", Input).focus()

    @on(Button.Pressed, "#switch")
    def _switch(self) -> None:
        self.action_toggle_register()

    @on(OptionList.OptionSelected, "#profiles")
    def _profile(self, event: OptionList.OptionSelected) -> None:
        self.post_message(ProfilePicked(self.profiles[int(event.option.id or 0)]))

    @on(Button.Pressed, "#submit")
    @on(Input.Submitted, "#password")
    def _submit(self) -> None:
        value = {name: self.query_one(f"#{name}", Input).value.strip()
                 for name in ("server", "email", "first-name", "last-name")}
        password = self.query_one("#password", Input).value
        if not value["server"] or not value["email"] or not password:
            self.say("Server, email and password are needed")
            return
        if self.registering:
            if not value["first-name"] or not value["last-name"]:
                self.say("First and last name are needed to register")
                return
            self.post_message(RegisterSubmitted(value["server"], value["first-name"], value["last-name"],
                                                value["email"], password))
        else:
            self.post_message(LoginSubmitted(value["server"], value["email"], password))
        self.say("Connecting…", error=False)

    @on(Input.Submitted, "#email")
    def _to_password(self) -> None:
        self.query_one("#password", Input).focus()
