"""``chatkit tui``: a Textual terminal chat client built on ``chatkit.client`` alone.

``app`` (the shell: starting and ending sessions, global keys), ``controller`` (the
chat actions on the client and the state, in plain Python), ``state`` (what is
shown, in plain Python), ``profiles`` (remembered sessions), ``session`` (making and
closing clients), ``commands`` (slash commands), ``messages`` (the Textual messages),
``screens/`` (``main`` routes the chat widgets' messages and keys to the controller)
and ``widgets/``. Importing
this package does not import Textual; ``chatkit.tui.app`` does.
"""
