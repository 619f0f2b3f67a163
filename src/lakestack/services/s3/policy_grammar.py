"""What a bucket policy may name: S3's actions (and the resource types each applies to) and
S3's condition keys, from the Service Authorization Reference.
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html

Only what PutBucketPolicy needs to check a document as S3 does: an action S3 does not have
is "Policy has invalid action", an action none of a statement's resources can be (s3:GetObject
on a bucket ARN) is "Action does not apply to any resource(s) in statement", an s3: condition
key S3 does not have is "Policy has an invalid condition key".
"""

from __future__ import annotations

from functools import cache

from lakestack.services.iam.matching import glob

# Actions on an object ARN (arn:aws:s3:::bucket/key).
OBJECT_ACTIONS = frozenset("""
AbortMultipartUpload BypassGovernanceRetention DeleteObject DeleteObjectTagging DeleteObjectVersion
DeleteObjectVersionTagging GetObject GetObjectAcl GetObjectAttributes GetObjectLegalHold GetObjectRetention
GetObjectTagging GetObjectTorrent GetObjectVersion GetObjectVersionAcl GetObjectVersionAttributes
GetObjectVersionForReplication GetObjectVersionTagging GetObjectVersionTorrent InitiateReplication
ListMultipartUploadParts ObjectOwnerOverrideToBucketOwner PutObject PutObjectAcl PutObjectLegalHold
PutObjectRetention PutObjectTagging PutObjectVersionAcl PutObjectVersionTagging ReplicateDelete
ReplicateObject ReplicateTags RestoreObject RenameObject
""".split())

# Actions on a bucket ARN (arn:aws:s3:::bucket).
BUCKET_ACTIONS = frozenset("""
CreateBucket DeleteBucket DeleteBucketPolicy DeleteBucketWebsite DeleteBucketOwnershipControls
GetAccelerateConfiguration GetAnalyticsConfiguration GetBucketAcl GetBucketCORS GetBucketLocation
GetBucketLogging GetBucketNotification GetBucketObjectLockConfiguration GetBucketOwnershipControls
GetBucketPolicy GetBucketPolicyStatus GetBucketPublicAccessBlock GetBucketRequestPayment GetBucketTagging
GetBucketVersioning GetBucketWebsite GetEncryptionConfiguration GetIntelligentTieringConfiguration
GetInventoryConfiguration GetLifecycleConfiguration GetMetricsConfiguration GetReplicationConfiguration
GetBucketAbac PutBucketAbac
ListBucket ListBucketByTags ListBucketMultipartUploads ListBucketVersions PutAccelerateConfiguration
PutAnalyticsConfiguration PutBucketAcl PutBucketCORS PutBucketLogging PutBucketNotification
PutBucketObjectLockConfiguration PutBucketOwnershipControls PutBucketPolicy PutBucketPublicAccessBlock
PutBucketRequestPayment PutBucketTagging PutBucketVersioning PutBucketWebsite PutEncryptionConfiguration
PutIntelligentTieringConfiguration PutInventoryConfiguration PutLifecycleConfiguration
PutMetricsConfiguration PutReplicationConfiguration
CreateBucketMetadataTableConfiguration DeleteBucketMetadataTableConfiguration
GetBucketMetadataTableConfiguration UpdateBucketMetadataInventoryTableConfiguration
UpdateBucketMetadataJournalTableConfiguration CreateBucketMetadataConfiguration
DeleteBucketMetadataConfiguration GetBucketMetadataConfiguration
ListTagsForResource TagResource UntagResource
""".split())

# Actions on other resource types (access points, jobs, Storage Lens, Access Grants, …) or on
# "*" only: real S3 actions, which no bucket or object ARN in a bucket policy can be.
OTHER_ACTIONS = frozenset("""
ListAllMyBuckets CreateJob DescribeJob UpdateJobPriority UpdateJobStatus ListJobs
CreateAccessPoint DeleteAccessPoint GetAccessPoint ListAccessPoints GetAccessPointPolicy PutAccessPointPolicy
DeleteAccessPointPolicy GetAccessPointPolicyStatus PutAccessPointPublicAccessBlock
CreateAccessPointForObjectLambda DeleteAccessPointForObjectLambda GetAccessPointForObjectLambda
ListAccessPointsForObjectLambda GetAccountPublicAccessBlock PutAccountPublicAccessBlock
GetStorageLensConfiguration PutStorageLensConfiguration DeleteStorageLensConfiguration
ListStorageLensConfigurations GetStorageLensDashboard GetStorageLensConfigurationTagging
PutStorageLensConfigurationTagging DeleteStorageLensConfigurationTagging
CreateMultiRegionAccessPoint DeleteMultiRegionAccessPoint GetMultiRegionAccessPoint
ListMultiRegionAccessPoints GetMultiRegionAccessPointPolicy PutMultiRegionAccessPointPolicy
GetMultiRegionAccessPointPolicyStatus GetMultiRegionAccessPointRoutes SubmitMultiRegionAccessPointRoutes
DescribeMultiRegionAccessPointOperation CreateStorageLensGroup DeleteStorageLensGroup GetStorageLensGroup
ListStorageLensGroups UpdateStorageLensGroup CreateAccessGrantsInstance DeleteAccessGrantsInstance
GetAccessGrantsInstance ListAccessGrantsInstances CreateAccessGrant DeleteAccessGrant GetAccessGrant
ListAccessGrants GetDataAccess ListCallerAccessGrants PutJobTagging GetJobTagging DeleteJobTagging
""".split())

_ALL = {name.lower(): name for name in OBJECT_ACTIONS | BUCKET_ACTIONS | OTHER_ACTIONS}
_OBJECT = frozenset(a.lower() for a in OBJECT_ACTIONS)
_BUCKET = frozenset(a.lower() for a in BUCKET_ACTIONS)

# S3's condition keys; those ending in "/" take a tag key after the slash.
CONDITION_KEYS = frozenset(k.lower() for k in """
s3:authType s3:signatureAge s3:signatureversion s3:TlsVersion s3:x-amz-content-sha256
s3:x-amz-acl s3:x-amz-grant-full-control s3:x-amz-grant-read s3:x-amz-grant-read-acp s3:x-amz-grant-write
s3:x-amz-grant-write-acp s3:x-amz-copy-source s3:x-amz-metadata-directive s3:x-amz-server-side-encryption
s3:x-amz-server-side-encryption-aws-kms-key-id s3:x-amz-server-side-encryption-customer-algorithm
s3:x-amz-storage-class s3:x-amz-website-redirect-location s3:x-amz-object-ownership s3:prefix s3:delimiter
s3:max-keys s3:VersionId s3:RequestObjectTagKeys s3:object-lock-legal-hold s3:object-lock-mode
s3:object-lock-retain-until-date s3:object-lock-remaining-retention-days s3:LocationConstraint
s3:ResourceAccount s3:AccessPointNetworkOrigin s3:DataAccessPointAccount s3:DataAccessPointArn
s3:ExistingJobOperation s3:ExistingJobPriority s3:JobSuspendedCause s3:RequestJobOperation
s3:RequestJobPriority s3:if-match s3:if-none-match s3:ObjectCreationOperation s3:x-amz-checksum-algorithm
s3:x-amz-server-side-encryption-context s3:InventoryAccessibleOptionalFields
""".split())
TAG_CONDITION_PREFIXES = ("s3:existingobjecttag/", "s3:requestobjecttag/")


def known_action(name: str) -> bool:
    """An S3 action name, or a wildcard pattern matching at least one (case-insensitive)."""
    return bool(matching_actions(name.lower()))


@cache
def matching_actions(pattern: str) -> frozenset[str]:
    """The lower-cased S3 action names (without "s3:") a lower-cased pattern matches."""
    vendor, _, name = pattern.partition(":")
    if pattern == "*":
        return frozenset(_ALL)
    if vendor not in ("s3", "s3*", "*") or not name:
        return frozenset()
    if "*" in name or "?" in name:
        regex = glob(name)
        return frozenset(a for a in _ALL if regex.fullmatch(a))
    return frozenset({name}) if name in _ALL else frozenset()


def applies(action_pattern: str, resource: str) -> bool:
    """Whether some action the pattern names can act on a resource the ARN pattern names:
    an object action on a pattern that can reach into a bucket (a "/" or a wildcard), a
    bucket action on one without a "/"."""
    if resource == "*":
        return True
    path = resource.split(":", 5)[-1] if resource.count(":") >= 5 else resource
    objectish = "/" in path or "*" in path or "?" in path or "${" in path
    bucketish = "/" not in path
    names = matching_actions(action_pattern.lower())
    return (objectish and bool(names & _OBJECT)) or (bucketish and bool(names & _BUCKET))


def known_condition_key(key: str) -> bool:
    low = key.lower()
    return low in CONDITION_KEYS or any(low.startswith(p) and len(low) > len(p) for p in TAG_CONDITION_PREFIXES)
