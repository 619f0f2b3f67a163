"""The lake layout: an object is a plain file at `<home>/s3/<bucket>/<key>` whenever its key
can be a path, so engines read it in place; other keys live under `<home>/s3-objects/` by
hash, and every key still reads back exactly."""

import hashlib
import os

import pytest
from botocore.exceptions import ClientError

import lakestack

BUCKET = "lake"


@pytest.fixture(scope="module")
def stack():
    with lakestack.local() as running:
        running.client("s3").create_bucket(Bucket=BUCKET)
        yield running


def lake_file(stack, key):
    return stack.home / "s3" / BUCKET / key


def hashed_file(stack, key):
    return stack.home / "s3-objects" / BUCKET / hashlib.sha256(key.encode()).hexdigest()


def test_partitioned_keys_are_plain_files(s3, stack):
    keys = ["events/year=2024/month=05/part-00000.parquet", "events/year=2024/month=06/part-00000.parquet",
            "raw/ünïcödé name.json"]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=f"bytes of {key}".encode())
    for key in keys:
        assert lake_file(stack, key).read_bytes() == f"bytes of {key}".encode()
    assert sorted(os.listdir(lake_file(stack, "events/year=2024"))) == ["month=05", "month=06"]


def test_a_key_and_its_children(s3, stack):
    s3.put_object(Bucket=BUCKET, Key="both", Body=b"the file")
    s3.put_object(Bucket=BUCKET, Key="both/child", Body=b"the child")
    assert lake_file(stack, "both").read_bytes() == b"the file"
    assert hashed_file(stack, "both/child").read_bytes() == b"the child"
    s3.put_object(Bucket=BUCKET, Key="tree/leaf", Body=b"leaf")
    s3.put_object(Bucket=BUCKET, Key="tree", Body=b"trunk")  # "tree" is already a directory
    assert lake_file(stack, "tree/leaf").read_bytes() == b"leaf"
    assert hashed_file(stack, "tree").read_bytes() == b"trunk"
    for key, body in (("both", b"the file"), ("both/child", b"the child"), ("tree", b"trunk"),
                      ("tree/leaf", b"leaf")):
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == body
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="tree")["Contents"]]
    assert keys == ["tree", "tree/leaf"]


@pytest.mark.parametrize("key", ["x//y", "dir/", "/leading", "a/./b", "a/../b", "..", "s" * 300])
def test_keys_that_cannot_be_paths(s3, stack, key):
    s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    assert hashed_file(stack, key).read_bytes() == key.encode()
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == key.encode()
    assert key in [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=key[:1])["Contents"]]
    s3.delete_object(Bucket=BUCKET, Key=key)
    assert not hashed_file(stack, key).exists()


def test_a_hashed_key_moves_into_the_lake_when_it_can(s3, stack):
    s3.put_object(Bucket=BUCKET, Key="spot", Body=b"blocker")
    s3.put_object(Bucket=BUCKET, Key="spot/inner", Body=b"v1")
    assert hashed_file(stack, "spot/inner").exists()
    s3.delete_object(Bucket=BUCKET, Key="spot")
    s3.put_object(Bucket=BUCKET, Key="spot/inner", Body=b"v2")
    assert lake_file(stack, "spot/inner").read_bytes() == b"v2"
    assert not hashed_file(stack, "spot/inner").exists()


def test_copies_and_multipart_land_in_the_lake(s3, stack):
    s3.put_object(Bucket=BUCKET, Key="copy/src.csv", Body=b"a,b\n1,2\n")
    s3.copy_object(Bucket=BUCKET, Key="copy/dst.csv", CopySource=f"{BUCKET}/copy/src.csv")
    assert lake_file(stack, "copy/dst.csv").read_bytes() == b"a,b\n1,2\n"
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="mp/out.bin")["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key="mp/out.bin", UploadId=upload_id, PartNumber=1, Body=b"mp")["ETag"]
    s3.complete_multipart_upload(Bucket=BUCKET, Key="mp/out.bin", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert lake_file(stack, "mp/out.bin").read_bytes() == b"mp"


def test_deletes_prune_empty_directories(s3, stack):
    s3.put_object(Bucket=BUCKET, Key="prune/deep/er/file", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="prune/sibling", Body=b"y")
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "prune/deep/er/file"}]})
    assert not lake_file(stack, "prune/deep").exists()
    assert lake_file(stack, "prune/sibling").exists()


def test_no_temp_files_left_behind(s3, stack):
    s3.put_object(Bucket=BUCKET, Key="tidy", Body=b"x" * 100_000)
    assert os.listdir(stack.home / "tmp") == []


def test_files_changed_by_other_tools(s3, stack):
    """The lake is open to other tools; S3 reads what is there rather than failing."""
    s3.put_object(Bucket=BUCKET, Key="outside/rewritten", Body=b"short")
    lake_file(stack, "outside/rewritten").write_bytes(b"rewritten by another engine")
    assert s3.get_object(Bucket=BUCKET, Key="outside/rewritten")["Body"].read() == b"rewritten by another engine"
    s3.put_object(Bucket=BUCKET, Key="outside/removed", Body=b"x")
    lake_file(stack, "outside/removed").unlink()
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=BUCKET, Key="outside/removed")
    assert caught.value.response["Error"]["Code"] == "NoSuchKey"
