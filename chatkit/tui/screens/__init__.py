"""The terminal client's screens: login, the main chat screen and its dialogs."""
