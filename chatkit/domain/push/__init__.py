"""Push notifications: queued in the ``pushes`` outbox, then sent by a background task.

- ``outbox``: decides a push when a message reaches an offline recipient, and queues it
  (merging a chat's burst) or, without a push service, records it.
- ``sender``: claims queued pushes, sends them through a backend, retries with backoff,
  records the outcome, drops dead device tokens.
- ``backends`` / ``firebase``: how a push reaches devices (record only, or FCM).
- ``report``: the operators' view (``chatkit admin pushes``).
- ``text``: cutting a long message on a character boundary.
"""
