"""GetObjectAttributes: an object's ETag, checksum, parts, storage class and size, without its body.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html
"""

from __future__ import annotations

from lakestack.services.s3 import checksums, errors
from lakestack.services.s3.objects import ObjectRecord

NAMES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
MAX_PARTS = 1000


def requested(values) -> set[str]:
    """x-amz-object-attributes: a comma-separated list, at least one of NAMES."""
    if isinstance(values, str):
        values = [values]
    names = {name.strip() for value in values or [] for name in value.split(",") if name.strip()}
    if not names or names - set(NAMES):
        raise errors.invalid_argument("Invalid attribute name specified.", "x-amz-object-attributes",
                                      ",".join(sorted(names - set(NAMES))))
    return names


def describe(record: ObjectRecord, params: dict) -> dict:
    names = requested(params.get("ObjectAttributes"))
    out: dict = {"LastModified": record.modified}
    if record.version_id is not None:
        out["VersionId"] = record.version_id
    if "ETag" in names:
        out["ETag"] = record.etag.strip('"')  # unquoted here, unlike everywhere else
    if "Checksum" in names and record.checksum_value:
        out["Checksum"] = {checksums.member(record.checksum_algorithm): record.checksum_value,
                           "ChecksumType": record.checksum_type or "FULL_OBJECT"}
    if "ObjectParts" in names and record.parts is not None:
        out["ObjectParts"] = _parts(record, params.get("PartNumberMarker") or 0, params.get("MaxParts"))
    if "StorageClass" in names:
        out["StorageClass"] = record.headers.get("StorageClass", "STANDARD")
    if "ObjectSize" in names:
        out["ObjectSize"] = record.size
    return out


def _parts(record: ObjectRecord, marker: int, max_parts: int | None) -> dict:
    """The parts of a multipart object, after `marker`, with the checksum each was sent with.
    Objects completed before part numbers were kept number theirs 1..N."""
    max_parts = MAX_PARTS if max_parts is None else max(0, min(max_parts, MAX_PARTS))
    details = record.part_details or [[number, None] for number in range(1, len(record.parts) + 1)]
    after = [(number, size, checksum) for (number, checksum), size in zip(details, record.parts, strict=False)
             if number > marker]
    listed = after[:max_parts]
    parts = []
    for number, size, checksum in listed:
        part = {"PartNumber": number, "Size": size}
        if checksum and record.checksum_algorithm:
            part[checksums.member(record.checksum_algorithm)] = checksum
        parts.append(part)
    out = {"TotalPartsCount": len(record.parts), "PartNumberMarker": marker, "MaxParts": max_parts,
           "IsTruncated": len(after) > len(listed), "Parts": parts}
    if listed:
        out["NextPartNumberMarker"] = listed[-1][0]
    return out
