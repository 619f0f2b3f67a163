"""S3 operations for browsers: POST Object (form uploads) and CORS — glue from requests to
post_object.py / post_policy.py / form_data.py and cors.py. A part of S3Provider."""

from __future__ import annotations

import datetime as dt

from lakestack.services.base import Action
from lakestack.services.s3 import calls, errors
from lakestack.services.s3 import post_object as browser_uploads
from lakestack.services.s3.calls import BUCKET, OBJECT


class BrowserOperations:
    # -- browser uploads (POST Object) and CORS ---------------------------------------------
    # The gateway recognises POST Object and preflights (botocore's model has neither) and calls
    # read_post_form / post_object and cors_preflight; cors_response_headers is asked for every S3
    # answer to a request with an Origin header.

    ACTIONS = {
        "PostObject": Action("s3:PutObject", OBJECT),
        "PutBucketCors": Action("s3:PutBucketCORS", BUCKET),
        "GetBucketCors": Action("s3:GetBucketCORS", BUCKET),
        "DeleteBucketCors": Action("s3:PutBucketCORS", BUCKET),  # AWS has no DeleteBucketCORS action
    }

    def read_post_form(self, ctx, bucket: str) -> browser_uploads.PostForm:
        """The upload form's fields up to its file, authenticated: the caller is who signed it."""
        form = browser_uploads.read_form(ctx.http, bucket, ctx.stack.credentials.lookup, dt.datetime.now(dt.UTC))
        ctx.principal = form.principal
        ctx.region = form.region or ctx.region
        return form

    def post_object(self, ctx, form: browser_uploads.PostForm) -> tuple[int, dict[str, str], bytes]:
        """POST Object: the form's file stored exactly as PutObject stores a body."""
        if self.buckets.get(form.bucket) is None:
            raise errors.no_such_bucket(form.bucket)
        params = browser_uploads.put_params(form)
        params["Body"] = browser_uploads.SizedFile(form.file, form.length_range)
        output = self.put_object(ctx, params)
        form.drain()
        return browser_uploads.answer(form, output, calls.location(ctx, form.bucket, form.key))

    def put_bucket_cors(self, ctx, params):
        self.buckets.require(ctx.account_id, params["Bucket"])
        self.cors.put(params["Bucket"], params.get("CORSConfiguration") or {})
        return {}

    def get_bucket_cors(self, ctx, params):
        self.buckets.require(ctx.account_id, params["Bucket"])
        return {"CORSRules": self.cors.get(params["Bucket"])}

    def delete_bucket_cors(self, ctx, params):
        self.buckets.require(ctx.account_id, params["Bucket"])
        self.cors.delete(params["Bucket"])
        return {}

    def cors_preflight(self, bucket: str, key: str | None, headers: dict[str, str]) -> dict[str, str]:
        """An OPTIONS preflight's answer headers (it is not authenticated)."""
        if self.buckets.get(bucket) is None:
            raise errors.no_such_bucket(bucket)
        return self.cors.preflight(bucket, key, headers.get("origin"), headers.get("access-control-request-method"),
                                   headers.get("access-control-request-headers"))

    def cors_response_headers(self, bucket: str, http) -> dict[str, str]:
        """The Access-Control-* headers of an answer to a request with an Origin header."""
        if not self.cors.configured(bucket):
            return {}
        # A request that names the method it stands for (Access-Control-Request-Method) is
        # judged by that method, as s3-tests' test_cors_origin_response expects.
        method = http.headers.get("access-control-request-method") or http.method
        return self.cors.response_headers(bucket, http.headers["origin"], method)
