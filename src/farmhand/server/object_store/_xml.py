"""S3's XML documents: the responses this endpoint writes and the one request body it reads."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from urllib.parse import quote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from ._errors import S3Error
from ._store import ListPage, ObjectInfo, PartInfo

__all__ = [
    "complete_result",
    "delete_result",
    "initiate_result",
    "iso_time",
    "list_buckets_result",
    "list_objects_result",
    "list_parts_result",
    "list_uploads_result",
    "location_result",
    "parse_complete_request",
    "parse_delete_request",
]

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


def iso_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _e(tag: str, value: object) -> str:
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _document(root: str, parts: Iterable[str]) -> bytes:
    return f'{_HEAD}<{root} xmlns="{NAMESPACE}">{"".join(parts)}</{root}>'.encode()


def _checksum_elements(checksums: dict[str, str]) -> list[str]:
    names = {
        "crc32": "CRC32",
        "crc32c": "CRC32C",
        "crc64nvme": "CRC64NVME",
        "sha1": "SHA1",
        "sha256": "SHA256",
    }
    return [_e(f"Checksum{names[a]}", v) for a, v in sorted(checksums.items()) if a in names]


def list_buckets_result(account_id: str, buckets: list[tuple[str, float]]) -> bytes:
    entries = "".join(
        f"<Bucket>{_e('Name', n)}{_e('CreationDate', iso_time(c))}</Bucket>" for n, c in buckets
    )
    return _document(
        "ListAllMyBucketsResult",
        [
            f"<Owner>{_e('ID', account_id)}{_e('DisplayName', 'farmhand')}</Owner>",
            f"<Buckets>{entries}</Buckets>",
        ],
    )


def location_result(region: str) -> bytes:
    value = "" if region == "us-east-1" else region
    return f'{_HEAD}<LocationConstraint xmlns="{NAMESPACE}">{escape(value)}</LocationConstraint>'.encode()


def list_objects_result(
    bucket: str,
    page: ListPage,
    *,
    version: int,
    prefix: str,
    delimiter: str,
    max_keys: int,
    url_encode: bool,
    continuation_token: str | None = None,
    next_token: str | None = None,
    start_after: str | None = None,
    marker: str | None = None,
) -> bytes:
    def text(value: str) -> str:
        return quote(value, safe="/") if url_encode else value

    parts = [_e("Name", bucket), _e("Prefix", text(prefix))]
    if version == 1:
        parts.append(_e("Marker", text(marker or "")))
        if page.truncated and delimiter and page.last is not None:
            parts.append(_e("NextMarker", text(page.last)))
    if delimiter:
        parts.append(_e("Delimiter", text(delimiter)))
    parts.append(_e("MaxKeys", max_keys))
    if url_encode:
        parts.append(_e("EncodingType", "url"))
    if version == 2:
        parts.append(_e("KeyCount", len(page.contents) + len(page.common_prefixes)))
        if continuation_token is not None:
            parts.append(_e("ContinuationToken", continuation_token))
        if next_token is not None:
            parts.append(_e("NextContinuationToken", next_token))
        if start_after:
            parts.append(_e("StartAfter", text(start_after)))
    parts.append(_e("IsTruncated", "true" if page.truncated else "false"))
    for info in page.contents:
        parts.append(
            "<Contents>"
            + _e("Key", text(info.key))
            + _e("LastModified", iso_time(info.modified))
            + _e("ETag", f'"{info.etag}"')
            + _e("Size", info.size)
            + _e("StorageClass", "STANDARD")
            + "</Contents>"
        )
    for common in page.common_prefixes:
        parts.append(f"<CommonPrefixes>{_e('Prefix', text(common))}</CommonPrefixes>")
    return _document("ListBucketResult", parts)


def initiate_result(bucket: str, key: str, upload_id: str) -> bytes:
    return _document(
        "InitiateMultipartUploadResult", [_e("Bucket", bucket), _e("Key", key), _e("UploadId", upload_id)]
    )


def complete_result(location: str, info: ObjectInfo) -> bytes:
    return _document(
        "CompleteMultipartUploadResult",
        [
            _e("Location", location),
            _e("Bucket", info.bucket),
            _e("Key", info.key),
            _e("ETag", f'"{info.etag}"'),
            *_checksum_elements(info.checksums),
        ],
    )


def list_parts_result(
    bucket: str,
    key: str,
    upload_id: str,
    parts: list[PartInfo],
    *,
    marker: int,
    max_parts: int,
    truncated: bool,
    checksum_algorithm: str | None,
) -> bytes:
    body = [
        _e("Bucket", bucket),
        _e("Key", key),
        _e("UploadId", upload_id),
        _e("PartNumberMarker", marker),
        _e("NextPartNumberMarker", parts[-1].part_number if parts else marker),
        _e("MaxParts", max_parts),
        _e("IsTruncated", "true" if truncated else "false"),
    ]
    for part in parts:
        body.append(
            "<Part>"
            + _e("PartNumber", part.part_number)
            + _e("LastModified", iso_time(part.modified))
            + _e("ETag", f'"{part.etag}"')
            + _e("Size", part.size)
            + "".join(_checksum_elements(part.checksums))
            + "</Part>"
        )
    body.append(_e("StorageClass", "STANDARD"))
    if checksum_algorithm:
        body.append(_e("ChecksumAlgorithm", checksum_algorithm.upper()))
    return _document("ListPartsResult", body)


def list_uploads_result(bucket: str, prefix: str, uploads: list[tuple[str, str, float]]) -> bytes:
    body = [_e("Bucket", bucket), _e("Prefix", prefix), _e("MaxUploads", 1000), _e("IsTruncated", "false")]
    for key, upload_id, created in uploads:
        body.append(
            f"<Upload>{_e('Key', key)}{_e('UploadId', upload_id)}{_e('Initiated', iso_time(created))}"
            f"{_e('StorageClass', 'STANDARD')}</Upload>"
        )
    return _document("ListMultipartUploadsResult", body)


def _local(tag: str) -> str:
    return re.sub(r"^\{.*\}", "", tag)


def _parse(body: bytes, root_name: str) -> ElementTree.Element:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise S3Error("MalformedXML", "The XML you provided must not declare a DOCTYPE or entities")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise S3Error("MalformedXML", f"The XML you provided was not well-formed: {exc}") from None
    if _local(root.tag) != root_name:
        raise S3Error("MalformedXML", f"The root element must be {root_name}")
    return root


def parse_delete_request(body: bytes) -> tuple[list[str], bool]:
    """The keys of a DeleteObjects body (at most 1,000) and whether the answer may be quiet."""
    root = _parse(body, "Delete")
    keys: list[str] = []
    quiet = False
    for element in root:
        if _local(element.tag) == "Quiet":
            quiet = (element.text or "").strip().lower() == "true"
        elif _local(element.tag) == "Object":
            fields = {_local(child.tag): child.text or "" for child in element}
            if "Key" not in fields:
                raise S3Error("MalformedXML", "Every Object needs a Key")
            keys.append(fields["Key"])
    if not keys or len(keys) > 1000:
        raise S3Error("MalformedXML", "DeleteObjects takes 1 to 1000 keys")
    return keys, quiet


def delete_result(deleted: list[str], errors: list[tuple[str, str, str]]) -> bytes:
    parts = [f"<Deleted>{_e('Key', key)}</Deleted>" for key in deleted]
    parts += [f"<Error>{_e('Key', k)}{_e('Code', c)}{_e('Message', m)}</Error>" for k, c, m in errors]
    return _document("DeleteResult", parts)


def parse_complete_request(body: bytes) -> list[tuple[int, str]]:
    """The (part number, ETag) pairs of a CompleteMultipartUpload body, in the order given."""
    root = _parse(body, "CompleteMultipartUpload")
    local = _local
    parts: list[tuple[int, str]] = []
    for element in root:
        if local(element.tag) != "Part":
            continue
        fields = {local(child.tag): (child.text or "").strip() for child in element}
        number, etag = fields.get("PartNumber"), fields.get("ETag")
        if not number or not number.isdigit() or etag is None:
            raise S3Error("MalformedXML", "Every Part needs a PartNumber and an ETag")
        parts.append((int(number), etag))
    return parts
