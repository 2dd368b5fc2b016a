"""Account mails: queued in the ``mails`` outbox, then sent over SMTP by a background task.

- ``text``: what a code mail says (plain text and HTML, English or Arabic), no tracking.
- ``outbox``: writes a mail to the outbox and wakes the sender.
- ``smtp``: the transport (aiosmtplib), configured by ``CHATKIT_SMTP_URL``.
- ``sender``: claims queued mails, sends them, retries with backoff, records the outcome.
- ``report``: the operators' view (``chatkit admin mails``): never a mail's body.
"""
