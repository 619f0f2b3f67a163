"""Access control lists on writes. Every lakestack bucket is what a new AWS bucket is by
default: Object Ownership `BucketOwnerEnforced`, ACLs disabled. S3 then accepts only ACLs
that leave the bucket owner in full control (no ACL, `private`, `bucket-owner-full-control`)
and refuses every other canned ACL or grant with AWS's errors, which lakestack answers too;
other Object Ownership settings (ACLs enabled) are not implemented yet.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html
"""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import errors

_GRANTS = frozenset({"GrantFullControl", "GrantRead", "GrantReadACP", "GrantWrite", "GrantWriteACP"})
_ACL_MEMBERS = _GRANTS | {"ACL"}
# Both mean "the bucket owner (who owns every object) has full control", the enforced default.
_DEFAULT_OBJECT_ACLS = frozenset({"private", "bucket-owner-full-control"})


def check_object_acl(params: dict) -> None:
    """PutObject / CopyObject / CreateMultipartUpload's x-amz-acl and x-amz-grant-* headers."""
    if not params.keys() & _ACL_MEMBERS:
        return
    if params.keys() & _GRANTS or params["ACL"] not in _DEFAULT_OBJECT_ACLS:
        raise AwsError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)


def check_bucket_acl(params: dict) -> None:
    """CreateBucket's ownership and ACL headers."""
    ownership = params.get("ObjectOwnership")
    if ownership not in (None, "BucketOwnerEnforced"):
        raise errors.not_implemented_feature(f"Object Ownership {ownership} (ACLs enabled)",
                                             "x-amz-object-ownership")
    if params.keys() & _GRANTS or params.get("ACL", "private") != "private":
        raise AwsError("InvalidBucketAclWithObjectOwnership",
                       "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400)
