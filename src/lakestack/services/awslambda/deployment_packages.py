"""Where a deployment package comes from, and when it goes.

A function's code or a layer's content arrives inline (ZipFile) or as an S3 object, read
as the caller (who must be allowed s3:GetObject). Packages are kept by content in the code
store (code.py); one that no function version or layer uses any more is removed.
"""

from __future__ import annotations

from lakestack.aws.errors import AwsError
from lakestack.services.awslambda import errors
from lakestack.services.awslambda.code import MAX_S3_ZIP, CodeStore, Package
from lakestack.services.awslambda.functions import Catalog
from lakestack.services.awslambda.layers import Layers

IMAGES_NOT_SUPPORTED = "lakestack runs .zip deployment packages only; container images are not supported."


def function_package(stack, store: CodeStore, ctx, code: dict) -> Package:
    """The package a FunctionCode (CreateFunction) or UpdateFunctionCode request names."""
    if code.get("ImageUri"):
        raise errors.invalid_parameter(IMAGES_NOT_SUPPORTED)
    if code.get("ZipFile") is not None:
        return store.save(code["ZipFile"])
    if code.get("S3Bucket") and code.get("S3Key"):
        return store.save(_read_s3(stack, ctx, code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion")),
                          limit=MAX_S3_ZIP)
    raise errors.invalid_parameter("Please provide a source for function code.")


def layer_package(stack, store: CodeStore, ctx, content: dict) -> Package:
    """The package a PublishLayerVersion request's Content names."""
    if content.get("ZipFile") is not None:
        return store.save(content["ZipFile"])
    if content.get("S3Bucket") and content.get("S3Key"):
        return store.save(_read_s3(stack, ctx, content["S3Bucket"], content["S3Key"],
                                   content.get("S3ObjectVersion")), limit=MAX_S3_ZIP)
    raise errors.invalid_parameter("Please provide a source for layer content.")


def _read_s3(stack, ctx, bucket: str, key: str, version: str | None) -> bytes:
    """The package from S3, read as the caller (who must be allowed s3:GetObject)."""
    params = {"Bucket": bucket, "Key": key}
    if version:
        params["VersionId"] = version
    try:
        body = stack.call("s3", "GetObject", params, ctx.principal, region=ctx.region)["Body"]
    except AwsError as exc:
        raise errors.invalid_parameter(f"Error occurred while GetObject. S3 Error Code: {exc.code}. S3 Error "
                                       f"Message: {exc.message}") from None
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    try:
        return body.read()
    finally:
        body.close()


def location(store: CodeStore, sha_hex: str) -> str:
    """Code.Location / Content.Location of a package."""
    # AWS answers a presigned S3 URL valid for ten minutes; here, the stored zip itself.
    return store.zip_path(sha_hex).as_uri()


def collect_unused(store: CodeStore, catalog: Catalog, layers: Layers) -> None:
    """Remove packages no function version or layer uses any more."""
    used = layers.shas_in_use()
    with catalog.lock:
        for function in catalog.everywhere():
            for version in function.versions.values():
                used.add(version.code_sha)
                used.update(version.layer_shas)
    store.collect_unused(used)
