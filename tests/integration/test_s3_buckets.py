"""S3 buckets against a real server: lifecycle, regions, tagging and every bucket error."""

import pytest
from helpers import error_of

import lakestack


def code_and_status(call, **kwargs) -> tuple[str, int]:
    response = error_of(call, **kwargs)
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_bucket_lifecycle(s3, stack):
    assert s3.create_bucket(Bucket="life-cycle")["Location"] == "/life-cycle"
    assert (stack.home / "s3" / "life-cycle").is_dir()
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "life-cycle" in names
    head = s3.head_bucket(Bucket="life-cycle")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_location(Bucket="life-cycle")["LocationConstraint"] is None
    s3.put_object(Bucket="life-cycle", Key="k", Body=b"x")
    response = error_of(s3.delete_bucket, Bucket="life-cycle")
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("BucketNotEmpty", 409)
    assert response["Error"]["BucketName"] == "life-cycle"
    s3.delete_object(Bucket="life-cycle", Key="k")
    assert s3.delete_bucket(Bucket="life-cycle")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "life-cycle" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert not (stack.home / "s3" / "life-cycle").exists()


def test_missing_bucket_errors(s3):
    response = error_of(s3.get_bucket_location, Bucket="no-such-bucket-here")
    assert response["Error"]["Code"] == "NoSuchBucket"
    assert response["Error"]["Message"] == "The specified bucket does not exist"
    assert response["Error"]["BucketName"] == "no-such-bucket-here"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # HEAD answers carry no body: only the status reaches the client.
    assert code_and_status(s3.head_bucket, Bucket="no-such-bucket-here") == ("404", 404)
    assert code_and_status(s3.delete_bucket, Bucket="no-such-bucket-here") == ("NoSuchBucket", 404)
    assert code_and_status(s3.list_objects_v2, Bucket="no-such-bucket-here") == ("NoSuchBucket", 404)
    assert code_and_status(s3.put_object, Bucket="no-such-bucket-here", Key="k", Body=b"x") == ("NoSuchBucket", 404)


@pytest.mark.parametrize("name", [
    "ab", "a" * 64, "UpperCase", "under_score", "-leading", "trailing-", "double..dot", "192.168.1.1",
    "xn--punycode", "dash.-dot", "ends-s3alias",
])
def test_invalid_bucket_names(s3, name):
    response = error_of(s3.create_bucket, Bucket=name)
    assert response["Error"]["Code"] == "InvalidBucketName"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_valid_unusual_names(s3):
    for name in ("abc", "a" * 63, "with.dots.ok", "0-digits-9"):
        s3.create_bucket(Bucket=name)
        s3.head_bucket(Bucket=name)


def test_recreating_your_own_bucket(stack, s3):
    s3.create_bucket(Bucket="mine-east")
    # us-east-1 answers 200 for a bucket you already own there.
    assert s3.create_bucket(Bucket="mine-east")["ResponseMetadata"]["HTTPStatusCode"] == 200
    west = stack.client("s3", region_name="us-west-2")
    west.create_bucket(Bucket="mine-west", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    response = error_of(west.create_bucket, Bucket="mine-west",
                        CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_location_constraints(stack, s3):
    west = stack.client("s3", region_name="us-west-2")
    west.create_bucket(Bucket="in-west", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert s3.get_bucket_location(Bucket="in-west")["LocationConstraint"] == "us-west-2"
    assert s3.head_bucket(Bucket="in-west")["BucketRegion"] == "us-west-2"
    # A regional endpoint refers a missing or different constraint…
    response = error_of(west.create_bucket, Bucket="no-constraint")
    assert response["Error"]["Code"] == "IllegalLocationConstraintException"
    assert "unspecified" in response["Error"]["Message"]
    response = error_of(west.create_bucket, Bucket="other-region",
                        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert response["Error"]["Code"] == "IllegalLocationConstraintException"
    assert "eu-west-1" in response["Error"]["Message"]
    # …us-east-1 may not be named…
    response = error_of(s3.create_bucket, Bucket="named-east",
                        CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert response["Error"]["Code"] == "InvalidLocationConstraint"
    # …and the us-east-1 (global) endpoint creates buckets anywhere.
    s3.create_bucket(Bucket="from-east", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    assert s3.get_bucket_location(Bucket="from-east")["LocationConstraint"] == "eu-central-1"
    regions = {b["Name"]: b["BucketRegion"] for b in s3.list_buckets()["Buckets"]}
    assert regions["from-east"] == "eu-central-1"
    only_west = s3.list_buckets(BucketRegion="us-west-2")["Buckets"]
    assert {b["Name"] for b in only_west} >= {"in-west"} and all(b["BucketRegion"] == "us-west-2" for b in only_west)


def test_list_buckets_pages_and_prefix(s3):
    for i in range(5):
        s3.create_bucket(Bucket=f"paged-{i}")
    first = s3.list_buckets(MaxBuckets=2, Prefix="paged-")
    assert [b["Name"] for b in first["Buckets"]] == ["paged-0", "paged-1"]
    second = s3.list_buckets(MaxBuckets=10, Prefix="paged-", ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in second["Buckets"]] == ["paged-2", "paged-3", "paged-4"]
    assert "ContinuationToken" not in second
    assert s3.list_buckets()["Owner"]["ID"]


def test_bucket_tagging(s3):
    s3.create_bucket(Bucket="tagged")
    response = error_of(s3.get_bucket_tagging, Bucket="tagged")
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchTagSet", 404)
    tags = [{"Key": "team", "Value": "data"}, {"Key": "env", "Value": ""}]
    s3.put_bucket_tagging(Bucket="tagged", Tagging={"TagSet": tags})
    assert s3.get_bucket_tagging(Bucket="tagged")["TagSet"] == tags
    s3.put_bucket_tagging(Bucket="tagged", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert s3.get_bucket_tagging(Bucket="tagged")["TagSet"] == [{"Key": "only", "Value": "one"}]
    assert s3.delete_bucket_tagging(Bucket="tagged")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(s3.get_bucket_tagging, Bucket="tagged")["Error"]["Code"] == "NoSuchTagSet"
    duplicate = [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]
    assert error_of(s3.put_bucket_tagging, Bucket="tagged", Tagging={"TagSet": duplicate})["Error"]["Code"] == \
        "InvalidTag"
    reserved = [{"Key": "aws:secret", "Value": "1"}]
    assert error_of(s3.put_bucket_tagging, Bucket="tagged", Tagging={"TagSet": reserved})["Error"]["Code"] == \
        "InvalidTag"


def test_buckets_survive_a_restart(tmp_path):
    with lakestack.local(home=tmp_path) as first:
        client = first.client("s3")
        client.create_bucket(Bucket="durable")
        client.put_bucket_tagging(Bucket="durable", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
        client.put_object(Bucket="durable", Key="a/b.txt", Body=b"kept")
    with lakestack.local(home=tmp_path) as second:
        client = second.client("s3")
        assert client.get_bucket_tagging(Bucket="durable")["TagSet"] == [{"Key": "k", "Value": "v"}]
        assert client.get_object(Bucket="durable", Key="a/b.txt")["Body"].read() == b"kept"
