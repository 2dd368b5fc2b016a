"""Shared test helpers; ``conftest.py`` holds the fixtures, these modules everything else.

- ``constants``: values every test agrees on (secret, password, ids, paths, time format).
- ``accounts``: :class:`Account`, :func:`register` and the ``Authorization`` header.
- ``rest``: thin httpx wrappers for the chat REST API (check status, return bodies).
- ``realtime``: real python-socketio peers that record events, and the two-user :class:`Pair`.
- ``failures``: the one shape of a refusal: REST error reply, failed ack, CLI error line.
- ``waiting``: the one bounded poll, :func:`wait_until` (and its blocking twin).

The helpers speak the wire themselves (httpx, python-socketio, literal paths and event
names), never through chatkit's own client code, so the tests stay a check on the wire.
"""
