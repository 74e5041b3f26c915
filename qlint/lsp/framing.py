"""The language server's transport: LSP's base protocol read strictly, over stdio or TCP.

Each message is a header part (`Content-Length: N` and optionally `Content-Type`, each line
ending in CRLF, then an empty line) and N bytes of JSON. pygls' reader skips a header it
cannot read and waits for a valid one: after `Content-Length: abc`, a negative length or a
length shorter than the body, the rest of the stream never lines up again, and the server
stayed up but answered nothing, forever. Here a frame that breaks the framing ends the
connection with an error on stderr (the editor sees the server exit and can start it again);
a well-framed body that is not a valid message is only logged, and the next one is read.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import threading
from typing import Any, Awaitable, BinaryIO, Callable

from pygls.io_ import StdoutWriter

log = logging.getLogger(__name__)

MAX_HEADER_LINE = 8 * 1024  # bytes of one header line
MAX_BODY = 256 * 1024 * 1024  # bytes of one message (a whole file's text, escaped, fits many times)
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header name (RFC 9110's token)
_DIGITS = re.compile(rb"[0-9]{1,15}")

ReadLine = Callable[[], Awaitable[bytes]]
ReadExactly = Callable[[int], Awaitable[bytes]]


class FrameError(Exception):
    """The client broke the base protocol's framing; the message says how."""


async def read_frame(readline: ReadLine, readexactly: ReadExactly) -> bytes | None:
    """The body of the next message; None when the stream ends between messages."""
    length: int | None = None
    started = False
    while True:
        line = await readline()
        if not line:
            if started:
                raise FrameError("the connection ended inside a message's header")
            return None
        started = True
        if not line.endswith(b"\r\n") or len(line) > MAX_HEADER_LINE:
            shown = line[:80] + (b"..." if len(line) > 80 else b"")
            raise FrameError(f"a header line that does not end in CRLF within {MAX_HEADER_LINE} bytes: {shown!r}")
        if line == b"\r\n":
            if length is None:
                raise FrameError("a message without a Content-Length header")
            break
        name, colon, value = line[:-2].partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise FrameError(f"a malformed header line: {line[:80]!r}")
        if name.lower() == b"content-length":
            value = value.strip(b" \t")
            if not _DIGITS.fullmatch(value):
                raise FrameError(f"Content-Length is not a number of bytes: {value[:40]!r}")
            length = int(value)
            if length > MAX_BODY:
                raise FrameError(f"Content-Length {length:,} is more than {MAX_BODY:,} bytes")
    body = await readexactly(length)
    if len(body) < length:
        raise FrameError(f"the connection ended {length - len(body):,} bytes before the end of a message")
    return body


async def serve(readline: ReadLine, readexactly: ReadExactly, protocol: Any, stop: threading.Event) -> bool:
    """Hand each message to the protocol until the stream ends (True) or breaks its
    framing (False, said on stderr)."""
    while not stop.is_set():
        try:
            body = await read_frame(readline, readexactly)
        except FrameError as exc:
            print(f"qlint lsp: malformed message from the client ({exc}); closing the connection", file=sys.stderr)
            return False
        if body is None:
            return True
        try:
            protocol.handle_message(json.loads(body, object_hook=protocol.structure_message))
        except Exception as exc:  # a well-framed message that is not one: the next one is still read
            log.error("qlint lsp: unreadable message from the client, skipped: %s: %s", type(exc).__name__, exc)
    return True


class _Stdin:
    """Blocking reads of stdin on the server's thread pool (the event loop stays free)."""

    def __init__(self, stdin: BinaryIO, executor: Any) -> None:
        self.stdin, self.executor = stdin, executor

    def readline(self) -> Awaitable[bytes]:
        return asyncio.get_running_loop().run_in_executor(self.executor, self.stdin.readline, MAX_HEADER_LINE + 1)

    def readexactly(self, size: int) -> Awaitable[bytes]:
        return asyncio.get_running_loop().run_in_executor(self.executor, self.stdin.read, size)


def serve_io(server: Any, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> int:
    """Run the server on stdio; the exit status: 0 after `shutdown` then `exit` or the end of
    the input, 1 after `exit` without `shutdown` (the protocol says so) or a broken frame."""
    stop = threading.Event()
    server._stop_event = stop  # pygls' shutdown() sets it
    reader = _Stdin(stdin or sys.stdin.buffer, server.thread_pool)
    server.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
    try:
        clean = asyncio.run(serve(reader.readline, reader.readexactly, server.protocol, stop))
        return 0 if clean else 1
    except SystemExit as exc:  # pygls' `exit` handler: 0 after shutdown, else 1
        return exc.code if isinstance(exc.code, int) else 1
    except BrokenPipeError:
        log.error("the connection to the client is lost")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        server.shutdown()


def serve_tcp(server: Any, host: str, port: int) -> int:
    """Run the server on a TCP socket, for one client at a time; the exit status as serve_io's."""
    stop = threading.Event()
    server._stop_event = stop
    outcome = {"code": 0}

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.protocol.set_writer(writer)

        async def readline() -> bytes:
            try:
                return await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                return exc.partial
            except asyncio.LimitOverrunError:
                raise FrameError(f"a header line longer than {MAX_HEADER_LINE} bytes") from None

        async def readexactly(size: int) -> bytes:
            try:
                return await reader.readexactly(size)
            except asyncio.IncompleteReadError as exc:
                return exc.partial

        if not await serve(readline, readexactly, server.protocol, stop):
            outcome["code"] = 1
        writer.close()
        server.shutdown()

    async def listen() -> None:
        server._server = await asyncio.start_server(connection, host, port, limit=MAX_HEADER_LINE * 2)
        async with server._server:
            try:
                await server._server.serve_forever()
            except asyncio.CancelledError:
                pass

    try:
        asyncio.run(listen())
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        return 130
    return outcome["code"]
