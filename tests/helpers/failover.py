"""A TCP front for several chatkit processes, as a load balancer with a backup server is.

Each new connection goes to the first process that accepts it, and bytes are copied
both ways until either side closes; when a process dies, its connections close and
the clients' next connections reach the next process. That is what nginx's
``upstream`` does for a deployment (``deploy/``), in a few lines, on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib


class Failover:
    def __init__(self, *backends: str) -> None:
        """``backends``: ``http://host:port`` URLs, in order of preference."""
        self.backends = [_host_port(url) for url in backends]
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        """Listen on a free loopback port; returns the front's URL."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        for host, port in self.backends:
            try:
                server_r, server_w = await asyncio.open_connection(host, port)
            except OSError:
                continue  # that process is gone: the next one
            break
        else:
            client_w.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            await asyncio.gather(_copy(client_r, server_w), _copy(server_r, client_w))
        finally:
            self._pipes.discard(task)
            for writer in (client_w, server_w):
                writer.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes from ``reader`` to ``writer`` until either side goes; then both are closed,
    so a process that dies takes its clients' connections with it."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _host_port(url: str) -> tuple[str, int]:
    host, _, port = url.split("://", 1)[-1].rstrip("/").rpartition(":")
    return host, int(port)
