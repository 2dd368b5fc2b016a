"""``chatkit tui``: a Textual terminal chat client built on ``chatkit.client`` alone.

``app`` (the app, its workers and the client), ``state`` (what is shown, in plain
Python), ``profiles`` (remembered sessions), ``commands`` (slash commands),
``messages`` (the app's Textual messages), ``screens/`` and ``widgets/``. Importing
this package does not import Textual; ``chatkit.tui.app`` does.
"""
