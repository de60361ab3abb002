"""Stream the members of one huge top-level JSON object, one (key, value) at a time.

The Debian security tracker JSON is a single ~60 MB object ``{source package: {...}}``.
Loading it whole costs several hundred MB of Python objects; here only one top-level value
is decoded at a time (``json.JSONDecoder.raw_decode`` over a sliding text buffer), so memory
is bounded by the largest single value (a few MB for ``linux``), not by the file.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from typing import Any, TextIO

CHUNK = 1 << 20
MAX_VALUE = 256 << 20
_WS = " \t\n\r"
_MARGIN = 64


class JsonShapeError(ValueError):
    """The text is not a JSON object, or is not valid JSON (message says where)."""


class _Buffer:
    """A text window over ``stream``; ``pos`` indexes into ``text``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.text = ""
        self.pos = 0
        self.eof = False
        self.consumed = 0  # characters dropped from the front (for error positions)

    def more(self, size: int = 0) -> bool:
        """Read more text; False at end of file."""
        if self.eof:
            return False
        if self.pos:
            self.consumed += self.pos
            self.text = self.text[self.pos :]
            self.pos = 0
        data = self.stream.read(size or CHUNK)
        if not data:
            self.eof = True
            return False
        self.text += data
        return True

    def peek(self) -> str:
        """The next non-blank character ('' at end of file), not consumed."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def expect(self, chars: str) -> str:
        """Consume the next non-blank character, which must be one of ``chars``."""
        char = self.peek()
        if not char or char not in chars:
            found = repr(char) if char else "end of file"
            wanted = " or ".join(repr(c) for c in chars)
            raise JsonShapeError(f"expected {wanted} at character {self.where()}, found {found}")
        self.pos += 1
        return char

    def where(self) -> int:
        return self.consumed + self.pos

    def decode(self, decoder: json.JSONDecoder) -> Any:
        """Decode one complete JSON value at ``pos``, reading more text as needed."""
        self.peek()
        size = CHUNK
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                where = self.consumed + exc.pos
                if len(self.text) - self.pos > MAX_VALUE:
                    raise JsonShapeError(
                        f"invalid JSON at character {where}: {exc.msg} "
                        f"(or a single value larger than {MAX_VALUE >> 20} MiB)"
                    ) from None
                at_end = exc.pos >= len(self.text.rstrip()) or exc.msg.startswith("Unterminated")
                if self.more(size):
                    size = min(size * 2, 64 * CHUNK)
                    continue
                if at_end:
                    end = self.consumed + len(self.text)
                    raise JsonShapeError(f"truncated: the text stops at character {end}") from None
                raise JsonShapeError(f"invalid JSON at character {where}: {exc.msg}") from None
            # A number that ends near the buffer edge may go on in the next chunk.
            if len(self.text) - end < _MARGIN and not self.eof:
                self.more(size)  # shifts the window: decode again either way
                continue
            self.pos = end
            return value


def iter_object(stream: TextIO, arrays: Collection[str] = ()) -> Iterator[tuple[str, Any]]:
    """Yield the (key, value) pairs of the JSON object that makes up ``stream``; for a key
    of ``arrays`` whose value is an array, one pair per element (an NVD feed's
    ``vulnerabilities``: memory is bounded by one element, not the array).

    Raises :class:`JsonShapeError` when the text is not one JSON object (bad syntax,
    truncated, trailing data, or another top-level type).
    """
    decoder = json.JSONDecoder()
    buf = _Buffer(stream)
    buf.expect("{")
    if buf.peek() == "}":
        buf.pos += 1
    else:
        while True:
            if buf.peek() != '"':
                buf.expect('"')
            key = buf.decode(decoder)
            buf.expect(":")
            if key in arrays and buf.peek() == "[":
                buf.pos += 1
                if buf.peek() == "]":
                    buf.pos += 1
                else:
                    while True:
                        yield key, buf.decode(decoder)
                        if buf.expect(",]") == "]":
                            break
            else:
                yield key, buf.decode(decoder)
            if buf.expect(",}") == "}":
                break
    if buf.peek():
        raise JsonShapeError(f"trailing data after the object at character {buf.where()}")
