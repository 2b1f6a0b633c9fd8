"""Request bodies as S3 clients frame them: plain, or `aws-chunked` with a checksum trailer.

botocore sends `STREAMING-UNSIGNED-PAYLOAD-TRAILER` bodies (over TLS by default) as
`<hex size>\\r\\n<data>\\r\\n ... 0\\r\\n<x-amz-checksum-name>:<base64>\\r\\n\\r\\n`, inside HTTP chunked
transfer encoding; `x-amz-decoded-content-length` gives the object's size. The decoder below is fed
the HTTP body as it arrives and hands out the object's bytes as views into it, without copying.
"""

from __future__ import annotations

from ._errors import S3Error

__all__ = ["AwsChunkedDecoder"]

MAX_LINE_BYTES = 4096


def _malformed(problem: str) -> S3Error:
    return S3Error("InvalidRequest", f"Malformed aws-chunked body: {problem}")


class AwsChunkedDecoder:
    """An incremental aws-chunked decoder: `feed` returns the payload bytes, `finish` the trailers."""

    _SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)

    def __init__(self) -> None:
        self._state = self._SIZE
        self._line = bytearray()
        self._remaining = 0
        self._crlf_seen = 0
        self.trailers: dict[str, str] = {}
        self.decoded = 0

    def feed(self, data: bytes | bytearray) -> list[memoryview]:
        out: list[memoryview] = []
        view = memoryview(data)
        pos = 0
        end = len(view)
        while pos < end:
            if self._state == self._DATA:
                take = min(self._remaining, end - pos)
                out.append(view[pos : pos + take])
                pos += take
                self._remaining -= take
                self.decoded += take
                if self._remaining == 0:
                    self._state = self._DATA_END
                    self._crlf_seen = 0
            elif self._state == self._DATA_END:
                expected = b"\r\n"[self._crlf_seen]
                if view[pos] != expected:
                    raise _malformed("a chunk's data is not followed by CRLF (chunk size and data disagree)")
                pos += 1
                self._crlf_seen += 1
                if self._crlf_seen == 2:
                    self._state = self._SIZE
            elif self._state in (self._SIZE, self._TRAILER):
                newline = data.find(b"\n", pos)
                stop = end if newline < 0 else newline + 1
                self._line += view[pos:stop]
                pos = stop
                if len(self._line) > MAX_LINE_BYTES:
                    raise _malformed("a chunk header or trailer line is too long")
                if newline >= 0:
                    line = bytes(self._line)
                    self._line.clear()
                    if not line.endswith(b"\r\n"):
                        raise _malformed("lines must end with CRLF")
                    self._line_done(line[:-2])
            else:
                raise _malformed("data follows the final chunk and its trailers")
        return out

    def _line_done(self, line: bytes) -> None:
        if self._state == self._SIZE:
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _malformed(f"chunk size {size_text[:32]!r} is not hexadecimal") from None
            if size < 0:
                raise _malformed("negative chunk size")
            if size == 0:
                self._state = self._TRAILER
            else:
                self._remaining = size
                self._state = self._DATA
            return
        # trailer lines, ended by an empty line
        if not line:
            self._state = self._DONE
            return
        name, sep, value = line.partition(b":")
        if not sep:
            raise _malformed(f"trailer line {line[:64]!r} has no ':'")
        try:
            self.trailers[name.decode("ascii").strip().lower()] = value.decode("ascii").strip()
        except UnicodeDecodeError:
            raise _malformed("trailer lines must be ASCII") from None

    def finish(self) -> dict[str, str]:
        """The trailers, once the body ended exactly after them; raise if it was cut short."""
        if self._state != self._DONE:
            raise S3Error("IncompleteBody", "The aws-chunked body ended before its final chunk and trailers")
        return self.trailers
