"""S3's errors, with the codes, messages, statuses and extra elements S3 answers.

https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
"""

from __future__ import annotations

from lakestack.aws.errors import AwsError

MIN_PART_SIZE = 5 * 1024 * 1024


def no_such_bucket(bucket: str) -> AwsError:
    return AwsError("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=bucket)


def no_such_key(key: str) -> AwsError:
    return AwsError("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def no_such_upload(upload_id: str) -> AwsError:
    return AwsError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
        "aborted or completed.",
        404,
        UploadId=upload_id,
    )


def access_denied() -> AwsError:
    return AwsError("AccessDenied", "Access Denied", 403)


def invalid_bucket_name(bucket: str) -> AwsError:
    return AwsError("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=bucket)


def bucket_already_exists(bucket: str) -> AwsError:
    return AwsError(
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket namespace is shared by all users of the "
        "system. Please select a different name and try again.",
        409,
        BucketName=bucket,
    )


def bucket_already_owned_by_you(bucket: str) -> AwsError:
    return AwsError(
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
        409,
        BucketName=bucket,
    )


def bucket_not_empty(bucket: str) -> AwsError:
    return AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409, BucketName=bucket)


def illegal_location_constraint(constraint: str | None) -> AwsError:
    return AwsError(
        "IllegalLocationConstraintException",
        f"The {constraint or 'unspecified'} location constraint is incompatible for the region specific "
        "endpoint this request was sent to.",
        400,
    )


def invalid_location_constraint(constraint: str) -> AwsError:
    return AwsError(
        "InvalidLocationConstraint", "The specified location-constraint is not valid", 400,
        LocationConstraint=constraint,
    )


def no_such_tag_set(bucket: str) -> AwsError:
    return AwsError("NoSuchTagSet", "The TagSet does not exist", 404, BucketName=bucket)


def invalid_tag(message: str) -> AwsError:
    return AwsError("InvalidTag", message, 400)


def invalid_argument(message: str, name: str | None = None, value=None) -> AwsError:
    fields = {}
    if name is not None:
        fields = {"ArgumentName": name, "ArgumentValue": "" if value is None else str(value)}
    return AwsError("InvalidArgument", message, 400, **fields)


def invalid_request(message: str) -> AwsError:
    return AwsError("InvalidRequest", message, 400)


def malformed_xml() -> AwsError:
    return AwsError(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )


def key_too_long(size: int) -> AwsError:
    return AwsError("KeyTooLongError", "Your key is too long", 400, MaxSizeAllowed=1024, Size=size)


def metadata_too_large(size: int) -> AwsError:
    return AwsError(
        "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.", 400,
        Size=size, MaxSizeAllowed=2048,
    )


def entity_too_large(size: int, limit: int) -> AwsError:
    return AwsError(
        "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400,
        ProposedSize=size, MaxSizeAllowed=limit,
    )


def entity_too_small(size: int, part_number: int, etag: str) -> AwsError:
    return AwsError(
        "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", 400,
        ProposedSize=size, MinSizeAllowed=MIN_PART_SIZE, PartNumber=part_number, ETag=etag,
    )


def incomplete_body() -> AwsError:
    return AwsError(
        "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header",
        400,
    )


def invalid_range(requested: str, size: int) -> AwsError:
    return AwsError(
        "InvalidRange", "The requested range is not satisfiable", 416,
        RangeRequested=requested, ActualObjectSize=size,
    )


def precondition_failed(condition: str) -> AwsError:
    return AwsError(
        "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
        Condition=condition,
    )


def bad_digest_md5() -> AwsError:
    return AwsError("BadDigest", "The Content-MD5 you specified did not match what we received.", 400)


def invalid_digest_md5() -> AwsError:
    return AwsError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)


def bad_digest_checksum(algorithm: str) -> AwsError:
    return AwsError(
        "BadDigest", f"The {algorithm} you specified did not match the calculated checksum.", 400,
    )


def invalid_checksum_value(algorithm: str) -> AwsError:
    return invalid_request(f"Value for x-amz-checksum-{algorithm.lower()} header is invalid.")


def invalid_part(upload_id: str, part_number: int, etag: str) -> AwsError:
    return AwsError(
        "InvalidPart",
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or "
        "the specified entity tag may not match the part's entity tag.",
        400,
        UploadId=upload_id, PartNumber=part_number, ETag=etag,
    )


def invalid_part_order(upload_id: str) -> AwsError:
    return AwsError(
        "InvalidPartOrder",
        "The list of parts was not in ascending order. Parts must be ordered by part number.",
        400,
        UploadId=upload_id,
    )


def invalid_part_number(value) -> AwsError:
    return invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", value)


def copy_onto_itself() -> AwsError:
    return invalid_request(
        "This copy request is illegal because it is trying to copy an object to itself without changing the "
        "object's metadata, storage class, website redirect location or encryption attributes."
    )


def not_implemented_feature(feature: str, header: str | None = None) -> AwsError:
    """A request that asks for a feature lakestack does not have yet: refused by name rather
    than ignored (AWS has no such error; like `aws.errors.not_implemented`)."""
    message = f"S3 {feature} is not implemented yet"
    if header:
        message += f" (requested by {header})"
    return AwsError("NotImplementedError", message, 501, sender_fault=False)


def method_not_allowed(method: str) -> AwsError:
    return AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405,
                    Method=method)
# -- Object Lock and lifecycle -------------------------------------------------------------

def invalid_bucket_state(message: str) -> AwsError:
    return AwsError("InvalidBucketState", message, 409)


def object_lock_configuration_not_found(bucket: str) -> AwsError:
    return AwsError("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket",
                    404, BucketName=bucket)


def no_such_object_lock_configuration() -> AwsError:
    return AwsError("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration",
                    404)


def invalid_retention_period(message: str) -> AwsError:
    return AwsError("InvalidRetentionPeriod", message, 400)


def object_locked() -> AwsError:
    """A locked version's delete, or a retention change its mode forbids."""
    return AwsError("AccessDenied", "Access Denied because object protected by object lock.", 403)


def no_such_lifecycle_configuration(bucket: str) -> AwsError:
    return AwsError("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", 404,
                    BucketName=bucket)

