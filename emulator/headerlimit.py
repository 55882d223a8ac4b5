"""uvicorn's httptools protocol with a bound on each request's head (request line and headers).

httptools (llhttp) has no limit of its own: it keeps growing one header value until the
value ends, so a single endless header is all memory, and the application only sees a request
once its headers are complete. The count therefore lives in the protocol, using only the
interfaces the base class already implements: asyncio.Protocol's (`connection_made`,
`data_received`) and httptools' parser callbacks (`on_message_begin`, `on_url`, `on_header`,
`on_headers_complete`, `on_body`, `on_message_complete`), each passed on with super().

Two counts, either of which refuses with 431 and closes the connection:
- the parsed head, exactly, when the headers are complete (a head that arrived whole);
- the raw bytes of reads made while a head is still incomplete (a head still streaming in:
  it is refused after at most one read past the limit, before it is all buffered).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("emulator.http")

Phase = Literal["idle", "head", "body"]
# Request line terminator, ": " and CRLF per header, the blank line: what the parsed parts
# leave out of the bytes on the wire.
_LINE_OVERHEAD = 4


class HeaderLimitProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that answers 431 to a request head over `max_header_bytes`."""

    max_header_bytes = 32 * 1024
    setting_name = "EMULATOR_MAX_HEADER_BYTES"

    @classmethod
    def limited_to(cls, max_header_bytes: int) -> type[HeaderLimitProtocol]:
        """A subclass with this limit (uvicorn builds one protocol per connection from a class)."""
        return cast(
            "type[HeaderLimitProtocol]",
            type(cls.__name__, (cls,), {"max_header_bytes": max_header_bytes}),
        )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._raw_transport = transport
        self._phase: Phase = "idle"
        self._parsed = 0  # bytes of the current head, from the parser's callbacks
        self._streamed = 0  # bytes of whole reads that held nothing but the current head
        self._begun = 0  # heads begun during the current read
        self._refused = False
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        started_in = self._phase
        self._begun = 0
        super().data_received(data)
        if self._refused or self._phase != "head":
            return
        # The read was all head only if the head began before it, or at its first byte;
        # otherwise part of it was the previous request (pipelining): not counted, so a
        # head is never refused for bytes that were not its own.
        if (started_in == "head" and self._begun == 0) or (
            started_in == "idle" and self._begun == 1
        ):
            self._streamed += len(data)
            if self._streamed > self.max_header_bytes:
                self._refuse()

    def on_message_begin(self) -> None:
        self._phase = "head"
        self._parsed = self._streamed = 0
        self._begun += 1
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            self._parsed += len(url) + _LINE_OVERHEAD
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._refused:
            self._parsed += len(name) + len(value) + _LINE_OVERHEAD
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._phase = "body"
        if self._parsed > self.max_header_bytes:
            self._refuse()
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            self._phase = "idle"
            super().on_message_complete()

    def _refuse(self) -> None:
        # The rest of this read may still be parsed (httptools cannot be stopped mid-read):
        # every callback above ignores it once refused, and closing stops further reads.
        self._refused = True
        peer = self._raw_transport.get_extra_info("peername")
        log.warning(
            "refused a request from %s: its headers exceed %d bytes (%s)",
            peer[0] if peer else "?",
            self.max_header_bytes,
            self.setting_name,
        )
        text = (
            f"Request header fields too large: more than {self.max_header_bytes} bytes"
            f" ({self.setting_name})\n"
        ).encode()
        self._raw_transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (len(text), text)
        )
        self._raw_transport.close()
