"""Requests aiohttp's HTTP parser refuses, answered in the contract's envelope.

Left to itself aiohttp answers a request it cannot parse (an 8 KB header, a bad method,
a garbage request line) with a plain-text 400 that quotes the offending bytes back,
and logs each with a traceback: anyone could fill the log by sending junk. Here such a
request gets ``{success:false, message}`` with a fixed sentence (400, or 431 for a
line or header over the limit), the connection is closed as aiohttp does, and the log
gets one warning line naming the error's kind, never its text.

aiohttp builds the error reply in ``RequestHandler.handle_error``, one handler per
connection made by ``web.Server``; :class:`QuietAppRunner` is an ``AppRunner`` whose
server makes :class:`QuietRequestHandler` connections.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from chatkit.protocol import Sentence

log = logging.getLogger(__name__)


def refusal(exc: HttpProcessingError) -> tuple[int, str]:
    """The status and fixed sentence for a request the parser refused."""
    if isinstance(exc, LineTooLong):
        return 431, Sentence.REQUEST_TOO_LARGE
    if isinstance(exc, BadHttpMethod):
        return 400, Sentence.BAD_METHOD
    return 400, Sentence.MALFORMED_REQUEST


class QuietRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering unparsable requests as :func:`refusal` says."""

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            # A failure in the server itself: aiohttp logs it with its traceback, as it should.
            super().handle_error(request, status, exc, message)
            response = web.json_response({"success": False, "message": Sentence.INTERNAL_ERROR}, status=status)
        else:
            status, sentence = refusal(exc)
            log.warning("refused an unparsable HTTP request from %s: %s (%d)",
                        request.remote, type(exc).__name__, status)
            if request.writer.output_size > 0:  # a reply is under way: the connection is beyond saving
                raise ConnectionError("cannot answer a malformed request after replying")
            response = web.json_response({"success": False, "message": sentence}, status=status)
        response.force_close()
        return response


class QuietServer(web.Server):
    def __call__(self) -> RequestHandler:
        return QuietRequestHandler(self, loop=self._loop, **self._kwargs)


class QuietAppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer unparsable requests in the envelope."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = QuietServer  # same object and state; only the handler class differs
        return server
