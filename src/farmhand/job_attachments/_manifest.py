"""Asset manifests, version 2023-03-03: the JSON documents listing the files of one asset root.

The encoding is canonical, byte for byte what the AWS Deadline Cloud tools write, so the same tree
gives the same manifest (and the same xxh128 of it) whichever tool hashed it: keys sorted, no
spaces, ASCII only (`\\uXXXX` escapes), and `paths` ordered by the UTF-16-BE code units of `path`.
Decoding validates the document and every path: relative, POSIX separators, no `.`/`..`/empty
segments, no NUL, no drive letters; such paths could otherwise write outside the directory the
manifest is synced into.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import xxhash

from ._errors import ManifestError, PathOutsideRootError

__all__ = [
    "HASH_ALGORITHM",
    "MANIFEST_VERSION",
    "Manifest",
    "ManifestEntry",
    "check_relative_path",
    "xxh128_hex",
]

MANIFEST_VERSION = "2023-03-03"
HASH_ALGORITHM = "xxh128"
_ALPHANUMERIC = re.compile(r"[0-9A-Za-z]+")
_DRIVE = re.compile(r"[A-Za-z]:")


def xxh128_hex(data: bytes | str) -> str:
    """xxh3-128 as lowercase hex: the hash of file contents, manifests and root paths."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return str(xxhash.xxh3_128_hexdigest(data))


def check_relative_path(path: str) -> str:
    """`path` if it is a safe relative POSIX path inside its root; PathOutsideRootError otherwise."""
    if not path:
        raise PathOutsideRootError("a manifest path is empty")
    if "\x00" in path:
        raise PathOutsideRootError(f"manifest path {path!r} contains NUL")
    if path.startswith("/") or "\\" in path or _DRIVE.match(path):
        raise PathOutsideRootError(f"manifest path {path!r} is not a relative POSIX path")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise PathOutsideRootError(f"manifest path {path!r} has an empty, '.' or '..' segment")
    return path


def _sort_key(path: str) -> bytes:
    return path.encode("utf-16-be", "surrogatepass")


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One file: its path relative to the root, xxh128 of its bytes, size, mtime in microseconds."""

    path: str
    hash: str
    size: int
    mtime: int


class Manifest:
    """The files of one asset root, kept in canonical order."""

    __slots__ = ("_by_path", "_encoded", "entries")

    def __init__(self, entries: Iterable[ManifestEntry]) -> None:
        self.entries: list[ManifestEntry] = sorted(entries, key=lambda e: _sort_key(e.path))
        self._by_path: dict[str, ManifestEntry] | None = None
        self._encoded: bytes | None = None

    @property
    def total_size(self) -> int:
        return sum(entry.size for entry in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifest) and self.entries == other.entries

    def __repr__(self) -> str:
        return f"Manifest({len(self.entries)} files, {self.total_size} bytes)"

    def get(self, path: str) -> ManifestEntry | None:
        if self._by_path is None:
            self._by_path = {entry.path: entry for entry in self.entries}
        return self._by_path.get(path)

    # -- encoding --------------------------------------------------------------------------------

    def encode(self) -> bytes:
        """The canonical JSON bytes (what is uploaded and what `hash` is taken of)."""
        if self._encoded is None:
            self._encoded = self._encode()
        return self._encoded

    def _encode(self) -> bytes:
        dumps = json.dumps
        parts = [
            f'{{"hash":{dumps(e.hash)},"mtime":{e.mtime},"path":{dumps(e.path)},"size":{e.size}}}'
            for e in self.entries
        ]
        text = (
            f'{{"hashAlg":"{HASH_ALGORITHM}","manifestVersion":"{MANIFEST_VERSION}",'
            f'"paths":[{",".join(parts)}],"totalSize":{self.total_size}}}'
        )
        return text.encode("ascii")

    @property
    def hash(self) -> str:
        """xxh128 of the canonical bytes: `inputManifestHash` / `outputManifestHash`."""
        return xxh128_hex(self.encode())

    # -- decoding --------------------------------------------------------------------------------

    @classmethod
    def decode(cls, data: bytes | str, *, name: str = "manifest") -> Manifest:
        """Parse and validate a manifest; ManifestError says what is wrong and in which `name`."""
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise ManifestError(f"{name} is not JSON: {error}") from error
        return cls.from_document(document, name=name)

    @classmethod
    def from_document(cls, document: Any, *, name: str = "manifest") -> Manifest:
        if not isinstance(document, dict):
            raise ManifestError(f"{name} is not a JSON object")
        missing = [f for f in ("hashAlg", "manifestVersion", "paths", "totalSize") if f not in document]
        if missing:
            raise ManifestError(f"{name} is missing required field(s) {missing}")
        if document["manifestVersion"] != MANIFEST_VERSION:
            raise ManifestError(
                f"{name} has manifestVersion {document['manifestVersion']!r}; "
                f"only {MANIFEST_VERSION} is known"
            )
        if document["hashAlg"] != HASH_ALGORITHM:
            raise ManifestError(f"{name} has hashAlg {document['hashAlg']!r}; only {HASH_ALGORITHM} is known")
        if not _is_int(document["totalSize"]):
            raise ManifestError(f"{name}: totalSize must be an integer")
        paths = document["paths"]
        if not isinstance(paths, list) or not paths:
            raise ManifestError(f"{name}: paths must be a list of at least one file")
        entries: list[ManifestEntry] = []
        seen: set[str] = set()
        for index, item in enumerate(paths):
            entries.append(_entry(item, f"{name}: paths[{index}]"))
            if entries[-1].path in seen:
                raise ManifestError(f"{name}: path {entries[-1].path!r} is listed twice")
            seen.add(entries[-1].path)
        return cls(entries)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry(item: Any, where: str) -> ManifestEntry:
    if not isinstance(item, dict):
        raise ManifestError(f"{where} is not an object")
    missing = [f for f in ("path", "hash", "size", "mtime") if f not in item]
    if missing:
        raise ManifestError(f"{where} is missing required field(s) {missing}")
    path, digest, size, mtime = item["path"], item["hash"], item["size"], item["mtime"]
    if not isinstance(path, str):
        raise ManifestError(f"{where}: path must be a string")
    if not isinstance(digest, str) or not _ALPHANUMERIC.fullmatch(digest):
        raise ManifestError(f"{where}: hash must be an alphanumeric string")
    if not _is_int(size) or size < 0:
        raise ManifestError(f"{where}: size must be a non-negative integer")
    if not _is_int(mtime):
        raise ManifestError(f"{where}: mtime must be an integer")
    try:
        check_relative_path(path)
    except PathOutsideRootError as error:
        raise PathOutsideRootError(f"{where}: {error}") from None
    return ManifestEntry(path, digest, size, mtime)
