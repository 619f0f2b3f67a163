"""Access control lists: what a bucket's or an object's ACL grants, how a request states one
(a canned ACL, x-amz-grant-* headers or an AccessControlPolicy body), and whom it lets in.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html

An ACL is kept as `{"Owner": canonical id, "Grants": [{"Grantee": {...}, "Permission": ...}]}`
with grantees as S3 answers them (Type plus ID or URI: S3 resolves an email grantee to its
account's canonical ID when the ACL is set; lakestack's accounts have no email, see Resolver). ACLs count only while the bucket's
Object Ownership is not `BucketOwnerEnforced` (object_ownership.py); then they are refused on
writes and reads answer the owner's full control.

Storage (AclStore): bucket ACLs in memory (few, read per request) over `bucket_acls`; object
ACLs in `object_acls`, one row per object version that has one. A row names the version's
ETag and Last-Modified, so a row left behind by an overwrite or a crash between a write and
its ACL never applies to other bytes at the same key and version id.
"""

from __future__ import annotations

import json
import re
import threading

from lakestack.aws.errors import AwsError
from lakestack.services.s3 import errors

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
# Grants to these make a bucket or object public (Block Public Access, public_access_block.py).
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})
PERMISSIONS = frozenset({"FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP"})
# The account aws-exec-read grants READ to (Amazon EC2, to fetch AMI bundles).
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl
EC2_CANONICAL_ID = "6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c"
CANNED = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
          "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write")
# x-amz-grant-* headers (their botocore members) → the permission they grant.
GRANT_HEADERS = {"GrantRead": "READ", "GrantWrite": "WRITE", "GrantReadACP": "READ_ACP",
                 "GrantWriteACP": "WRITE_ACP", "GrantFullControl": "FULL_CONTROL"}
_ACL_MEMBERS = frozenset(GRANT_HEADERS) | {"ACL"}

# IAM action → the ACL permission that allows it, on the bucket's ACL or the object's.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#permissions
BUCKET_PERMISSIONS = {
    "s3:ListBucket": "READ", "s3:ListBucketVersions": "READ", "s3:ListBucketMultipartUploads": "READ",
    "s3:PutObject": "WRITE", "s3:DeleteObject": "WRITE",
    "s3:GetBucketAcl": "READ_ACP", "s3:PutBucketAcl": "WRITE_ACP",
}
OBJECT_PERMISSIONS = {
    "s3:GetObject": "READ", "s3:GetObjectVersion": "READ", "s3:GetObjectTorrent": "READ",
    "s3:GetObjectAcl": "READ_ACP", "s3:GetObjectVersionAcl": "READ_ACP",
    "s3:PutObjectAcl": "WRITE_ACP", "s3:PutObjectVersionAcl": "WRITE_ACP",
}
_CANONICAL_ID = re.compile(r"[0-9a-f]{64}")
# One `key=value` of a grant header: id=…, uri=…, emailAddress=…, the value maybe quoted.
_GRANTEE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*(?:"([^"]*)"|([^,\s"]+))\s*(,|$)')


def requested(params: dict) -> bool:
    """Does this write state an ACL (x-amz-acl or x-amz-grant-*)?"""
    return not params.keys().isdisjoint(_ACL_MEMBERS)


def user(canonical_id: str) -> dict:
    return {"Type": "CanonicalUser", "ID": canonical_id}


def group(uri: str) -> dict:
    return {"Type": "Group", "URI": uri}


def grant(grantee: dict, permission: str) -> dict:
    return {"Grantee": grantee, "Permission": permission}


def default_acl(owner_id: str) -> dict:
    """What a bucket or object has when none was set: its owner has full control."""
    return {"Owner": owner_id, "Grants": [grant(user(owner_id), "FULL_CONTROL")]}


def canned(name: str, owner_id: str, bucket_owner_id: str, for_bucket: bool) -> dict:
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl"""
    if name not in CANNED:
        raise errors.invalid_argument("Invalid canned ACL", "x-amz-acl", name)
    grants = [grant(user(owner_id), "FULL_CONTROL")]
    if name == "public-read":
        grants.append(grant(group(ALL_USERS), "READ"))
    elif name == "public-read-write":
        grants += [grant(group(ALL_USERS), "READ"), grant(group(ALL_USERS), "WRITE")]
    elif name == "authenticated-read":
        grants.append(grant(group(AUTHENTICATED_USERS), "READ"))
    elif name == "aws-exec-read":
        grants.append(grant(user(EC2_CANONICAL_ID), "READ"))
    elif name == "log-delivery-write":
        grants += [grant(group(LOG_DELIVERY), "WRITE"), grant(group(LOG_DELIVERY), "READ_ACP")]
    elif name in ("bucket-owner-read", "bucket-owner-full-control"):
        # "Ignored if specified when creating a bucket" (and so on any bucket ACL).
        if not for_bucket:
            grants.append(grant(user(bucket_owner_id), "READ" if name == "bucket-owner-read" else "FULL_CONTROL"))
    return {"Owner": owner_id, "Grants": grants}


class Resolver:
    """Turns a grantee as a request names it into one S3 stores, or refuses it as S3 does:
    an unknown canonical ID is InvalidArgument, an email no account has is
    UnresolvableGrantByEmailAddress (lakestack's accounts have no email addresses)."""

    def __init__(self, known_ids):
        self._known = known_ids  # () -> set of canonical IDs that name an account here

    def canonical(self, canonical_id: str) -> dict:
        if (canonical_id != EC2_CANONICAL_ID
                and (not _CANONICAL_ID.fullmatch(canonical_id) or canonical_id not in self._known())):
            raise errors.invalid_argument("Invalid id", "CanonicalUser/ID", canonical_id)
        return user(canonical_id)

    @staticmethod
    def uri(uri: str) -> dict:
        if uri not in GROUPS:
            raise errors.invalid_argument("Invalid group uri", "Group/URI", uri)
        return group(uri)

    @staticmethod
    def email(address: str) -> dict:
        raise AwsError("UnresolvableGrantByEmailAddress",
                       "The e-mail address you provided does not match any account on record.", 400,
                       EmailAddress=address)


def from_headers(params: dict, resolver: Resolver) -> list[dict]:
    """The grants of x-amz-grant-* headers: `id="…"`, `uri="…"` or `emailAddress="…"`, comma-separated."""
    grants = []
    for member, permission in GRANT_HEADERS.items():
        value = params.get(member)
        if value is None:
            continue
        position, text = 0, value.strip()
        if not text:
            raise errors.invalid_argument("Invalid grant header", _header_name(member), value)
        while position < len(text):
            found = _GRANTEE.match(text, position)
            if found is None:
                raise errors.invalid_argument("Invalid grant header", _header_name(member), value)
            kind, quoted, bare, _ = found.groups()
            name = quoted if quoted is not None else bare
            if kind == "id":
                grantee = resolver.canonical(name)
            elif kind == "uri":
                grantee = resolver.uri(name)
            else:
                grantee = resolver.email(name)
            grants.append(grant(grantee, permission))
            position = found.end()
    return grants


def _header_name(member: str) -> str:
    return "x-amz-grant-" + {"GrantRead": "read", "GrantWrite": "write", "GrantReadACP": "read-acp",
                             "GrantWriteACP": "write-acp", "GrantFullControl": "full-control"}[member]


def malformed_acl() -> AwsError:
    return AwsError("MalformedACLError",
                    "The XML you provided was not well-formed or did not validate against our published schema",
                    400)


def from_policy(policy: dict, owner_id: str, resolver: Resolver) -> dict:
    """An AccessControlPolicy body (PutBucketAcl / PutObjectAcl).
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketAcl.html"""
    owner = policy.get("Owner")
    if not isinstance(owner, dict) or not owner.get("ID"):
        raise malformed_acl()
    if owner["ID"] != owner_id:
        # Only the resource's owner can be named: an ACL cannot hand the resource to another.
        raise errors.access_denied()
    grants = []
    for item in policy.get("Grants") or []:
        grantee, permission = item.get("Grantee") or {}, item.get("Permission")
        if permission not in PERMISSIONS:
            raise malformed_acl()
        kind = grantee.get("Type")
        if kind == "CanonicalUser" and grantee.get("ID"):
            resolved = resolver.canonical(grantee["ID"])
        elif kind == "Group" and grantee.get("URI"):
            resolved = resolver.uri(grantee["URI"])
        elif kind == "AmazonCustomerByEmail" and grantee.get("EmailAddress"):
            resolved = resolver.email(grantee["EmailAddress"])
        else:
            raise malformed_acl()
        grants.append(grant(resolved, permission))
    return {"Owner": owner_id, "Grants": grants}


def from_request(params: dict, owner_id: str, bucket_owner_id: str, resolver: Resolver,
                 for_bucket: bool) -> dict | None:
    """The ACL a write's headers state (CreateBucket, PutObject, CopyObject,
    CreateMultipartUpload), or None when it states none."""
    canned_name = params.get("ACL")
    headers = [m for m in GRANT_HEADERS if params.get(m) is not None]
    if canned_name is not None and headers:
        raise errors.invalid_request("Specifying both Canned ACLs and Header Grants is not allowed")
    if canned_name is not None:
        return canned(canned_name, owner_id, bucket_owner_id, for_bucket)
    if headers:
        return {"Owner": owner_id, "Grants": from_headers(params, resolver)}
    return None


def from_put_acl(params: dict, owner_id: str, bucket_owner_id: str, resolver: Resolver,
                 for_bucket: bool) -> dict:
    """PutBucketAcl / PutObjectAcl: headers or a body, exactly one of them."""
    stated = from_request(params, owner_id, bucket_owner_id, resolver, for_bucket)
    policy = params.get("AccessControlPolicy")
    if stated is not None:
        if policy:
            raise AwsError("UnexpectedContent", "This request does not support content", 400)
        return stated
    if policy is None:
        raise AwsError("MissingSecurityHeader", "Your request was missing a required header", 400,
                       MissingHeaderName="x-amz-acl")
    return from_policy(policy, owner_id, resolver)


def is_public(acl: dict | None) -> bool:
    return acl is not None and any(g["Grantee"].get("URI") in PUBLIC_GROUPS for g in acl["Grants"])


def only_owner_full_control(acl: dict | None, owner_id: str) -> bool:
    """True when the ACL leaves only `owner_id` with access, in full control: the ACLs a
    `BucketOwnerEnforced` bucket still accepts.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-ownership-error-responses.html"""
    if acl is None:
        return True
    return all(g["Grantee"].get("ID") == owner_id and g["Permission"] == "FULL_CONTROL" for g in acl["Grants"])


def describe(acl: dict, display_names: dict[str, str]) -> dict:
    """GetBucketAcl / GetObjectAcl's answer. Groups are listed before users (S3 documents no
    order; s3-tests expect this one)."""
    def grantee(g: dict) -> dict:
        out = dict(g)
        if "ID" in g and g["ID"] in display_names:
            out["DisplayName"] = display_names[g["ID"]]
        return out

    grants = sorted(acl["Grants"], key=lambda g: g["Grantee"]["Type"] != "Group")
    owner = {"ID": acl["Owner"]}
    if acl["Owner"] in display_names:
        owner["DisplayName"] = display_names[acl["Owner"]]
    return {"Owner": owner, "Grants": [{"Grantee": grantee(g["Grantee"]), "Permission": g["Permission"]}
                                       for g in grants]}


def grants_permission(acl: dict | None, permission: str, authenticated: bool, canonical_id: str | None,
                      ignore_public: bool) -> bool:
    """Does the ACL grant `permission` (or FULL_CONTROL) to this caller? `canonical_id`: the
    caller's account when its own grant counts (see acl_decision)."""
    if acl is None:
        return False
    for g in acl["Grants"]:
        if g["Permission"] != permission and g["Permission"] != "FULL_CONTROL":
            continue
        grantee = g["Grantee"]
        uri = grantee.get("URI")
        if uri is not None:
            if ignore_public and uri in PUBLIC_GROUPS:
                continue
            if uri == ALL_USERS or (uri == AUTHENTICATED_USERS and authenticated):
                return True
        elif canonical_id is not None and grantee.get("ID") == canonical_id:
            return True
    return False


def acl_decision(action: str, identity: str, bucket_acl: dict | None, object_acl, anonymous: bool,
                 other_account_id: str | None, ignore_public: bool) -> str:
    """The decision once ACLs are counted, for a bucket whose ACLs are enabled.

    An explicit Deny is never overridden. A caller of the bucket owner's account whose
    policies allow stays allowed; one they do not (and an anonymous caller) is let in by a
    grant to AllUsers, or to AuthenticatedUsers when the request is signed. A caller of
    another account (`other_account_id`, its canonical ID) needs both: its own account's
    allow and a grant to that account or to those groups.
    `object_acl`: a callable answering the object's ACL, looked up only when needed, or
    None for a missing object. https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html
    """
    if identity == "Deny":
        return identity
    if other_account_id is None:
        if identity == "Allow":
            return identity
    elif identity != "Allow":
        return identity
    denied = "ImplicitDeny"
    authenticated = not anonymous
    permission = BUCKET_PERMISSIONS.get(action)
    if permission is not None:
        allowed = grants_permission(bucket_acl, permission, authenticated, other_account_id, ignore_public)
        return "Allow" if allowed else denied
    permission = OBJECT_PERMISSIONS.get(action)
    if permission is None:
        return denied
    acl = object_acl() if object_acl is not None else None
    if acl is None:
        # No such object (or version): a reader who may list the bucket learns that (404), as on S3.
        listable = permission == "READ" and grants_permission(bucket_acl, "READ", authenticated, other_account_id,
                                                              ignore_public)
        return "Allow" if listable else denied
    return "Allow" if grants_permission(acl, permission, authenticated, other_account_id, ignore_public) else denied


class AclStore:
    """Bucket and object ACLs (tables `bucket_acls`, `object_acls`, `upload_acls`)."""

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._buckets: dict[str, dict] = {
            row["bucket"]: json.loads(row["acl"]) for row in store.db.query("SELECT bucket, acl FROM bucket_acls")}
        # Buckets with at least one object ACL row: elsewhere an object's ACL is its default,
        # known without a query.
        self._with_objects: set[str] = {
            row["bucket"] for row in store.db.query("SELECT DISTINCT bucket FROM object_acls")}

    # -- buckets ----------------------------------------------------------------------------

    def bucket(self, name: str) -> dict | None:
        """The bucket's ACL, or None when it has the default (its owner's full control)."""
        return self._buckets.get(name)

    def write_bucket(self, db, name: str, acl: dict | None) -> None:
        """Inside the caller's transaction; `commit_bucket` after it commits."""
        if acl is None:
            db.execute("DELETE FROM bucket_acls WHERE bucket = ?", (name,))
        else:
            db.execute("INSERT OR REPLACE INTO bucket_acls (bucket, acl) VALUES (?, ?)", (name, json.dumps(acl)))

    def commit_bucket(self, name: str, acl: dict | None) -> None:
        if acl is None:
            self._buckets.pop(name, None)
        else:
            self._buckets[name] = acl

    def set_bucket(self, name: str, acl: dict | None) -> None:
        with self.store.transaction() as db:
            self.write_bucket(db, name, acl)
        self.commit_bucket(name, acl)  # once durable

    def forget_bucket(self, db, name: str) -> None:
        """A bucket is deleted or (re)created: nothing of an earlier one under its name stays."""
        db.execute("DELETE FROM bucket_acls WHERE bucket = ?", (name,))
        db.execute("DELETE FROM object_acls WHERE bucket = ?", (name,))

    def forgotten(self, name: str) -> None:
        self._buckets.pop(name, None)
        self._with_objects.discard(name)

    # -- objects ----------------------------------------------------------------------------

    def has_object_acls(self, bucket: str) -> bool:
        return bucket in self._with_objects

    def object(self, record) -> dict | None:
        """The ACL of this object version, or None when it has the default."""
        if record.bucket not in self._with_objects:
            return None
        row = self.store.db.query_one(
            "SELECT acl, etag, last_modified FROM object_acls WHERE bucket = ? AND key = ? AND version_id = ?",
            (record.bucket, record.key, record.version_id or "null"))
        if row is None or row["etag"] != record.etag or row["last_modified"] != record.last_modified:
            return None
        return json.loads(row["acl"])

    def set_object(self, record, acl: dict | None) -> None:
        """After the version's write committed (or for PutObjectAcl). None: the default."""
        if acl is None and record.bucket not in self._with_objects:
            return
        with self.store.transaction() as db:
            if acl is None:
                db.execute("DELETE FROM object_acls WHERE bucket = ? AND key = ? AND version_id = ?",
                           (record.bucket, record.key, record.version_id or "null"))
            else:
                db.execute("INSERT OR REPLACE INTO object_acls (bucket, key, version_id, etag, last_modified, acl)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           (record.bucket, record.key, record.version_id or "null", record.etag,
                            record.last_modified, json.dumps(acl)))
                with self._lock:
                    self._with_objects.add(record.bucket)

    def forget_deleted(self, bucket: str, keys) -> None:
        """After deletes: drop the ACLs of versions of these keys that are gone."""
        if bucket not in self._with_objects:
            return
        keys = [key for key in set(keys) if self.store.db.query_one(
            "SELECT 1 FROM object_acls WHERE bucket = ? AND key = ? LIMIT 1", (bucket, key))]
        if not keys:
            return  # nothing to drop: no write (and no fsync) for it
        with self.store.transaction() as db:
            for key in keys:
                db.execute(
                    "DELETE FROM object_acls WHERE bucket = ? AND key = ? AND version_id NOT IN"
                    " (SELECT COALESCE(version_id, 'null') FROM objects WHERE bucket = ? AND key = ?"
                    "  UNION ALL SELECT version_id FROM versions WHERE bucket = ? AND key = ?)",
                    (bucket, key, bucket, key, bucket, key))

    # -- multipart uploads: the ACL CreateMultipartUpload stated, applied at completion -------

    def set_upload(self, upload_id: str, acl: dict) -> None:
        with self.store.transaction() as db:
            db.execute("INSERT OR REPLACE INTO upload_acls (upload_id, acl) VALUES (?, ?)",
                       (upload_id, json.dumps(acl)))

    def upload(self, upload_id: str) -> dict | None:
        row = self.store.db.query_one("SELECT acl FROM upload_acls WHERE upload_id = ?", (upload_id,))
        return json.loads(row["acl"]) if row is not None else None

    def forget_upload(self, upload_id: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM upload_acls WHERE upload_id = ?", (upload_id,))
