"""Shared test helpers; ``conftest.py`` holds the fixtures, these modules everything else.

- ``constants``: values every test agrees on (secret, password, ids, paths, time format).
- ``accounts``: :class:`Account`, :func:`register` and the ``Authorization`` header.
- ``rest``: thin httpx wrappers for the chat REST API (check status, return bodies).
- ``clients``: users on ``chatkit.client`` (:class:`People`, :class:`Person`, the
  :class:`Recorder` of their typed events, :func:`open_chat`): the way to test behaviour.
- ``realtime``: real python-socketio peers that record events, and the two-user :class:`Pair`.
- ``failures``: the one shape of a refusal: REST error reply, failed ack, CLI error line.
- ``waiting``: the one bounded poll, :func:`wait_until` (and its blocking twin).

Behaviour a user notices is tested through ``clients`` (``chatkit.client``, typed events
and exceptions). The wire contract (exact fields, event names, status codes, raw and
malformed input) is tested through ``accounts``, ``rest``, ``realtime`` and ``failures``,
which speak the wire themselves (httpx, python-socketio, literal paths and event names),
so the client library cannot hide what those tests check.
"""
