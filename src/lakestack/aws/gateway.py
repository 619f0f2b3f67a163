"""The one AWS endpoint: an ASGI app.

route → authenticate (SigV4) → parse (botocore model) → authorize (IAM) → dispatch to the
provider (in a worker thread) → serialize → answer. Protocol knowledge lives in
aws/protocols; services only see typed params.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from lakestack import __version__
from lakestack.aws import sigv4
from lakestack.aws.context import RequestContext
from lakestack.aws.errors import AwsError, internal_error, not_implemented, validation_error
from lakestack.aws.protocols import Response, protocol_module
from lakestack.aws.request import AsgiBody, BytesBody, HttpRequest
from lakestack.aws.routing import (
    ServiceIndex,
    choose_protocol,
    is_s3_post_object,
    operation_for,
    request_protocol,
    s3_bucket_and_key,
    s3_virtual_host_bucket,
)
from lakestack.aws.specs import service_model
from lakestack.aws.validation import message as validation_message
from lakestack.aws.validation import validate

log = logging.getLogger("lakestack.gateway")

STREAM_CHUNK = 1 << 20
# Non-streaming request bodies are read whole; cap them so a bad client cannot exhaust memory.
MAX_BUFFERED_BODY = 64 << 20
SMALL_BODY = 1 << 20


class Gateway:
    def __init__(self, stack):
        self.stack = stack
        self.index = ServiceIndex(stack.providers)
        self.pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="lakestack-op")
        # Request ids look like UUIDs: a random per-process prefix and a counter, which is
        # unique and cheaper than uuid4() on every request.
        self._id_prefix = str(uuid.uuid4())[:24]
        self._id_counter = itertools.count(1)

    def _request_id(self) -> str:
        return f"{self._id_prefix}{next(self._id_counter):012x}"

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        loop = asyncio.get_running_loop()
        http = HttpRequest(
            method=scope["method"],
            raw_path=(scope.get("raw_path") or quote(scope["path"]).encode()).decode("latin-1"),
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=_headers(scope["headers"]),
            body=AsgiBody(receive, loop),
            client_host=(scope.get("client") or ("", 0))[0],
            secure=scope.get("scheme") == "https",
            http_version=scope.get("http_version", "1.1"),
        )
        if http.raw_path.startswith("/_lakestack/"):
            await _send(send, self._internal(http), loop, self.pool)
            return
        response = await self.handle(http, loop)
        if isinstance(http.body, AsgiBody) and http.body.unread and scope.get("http_version", "1.1") != "2":
            # Answered before the body was read (an error): the rest of it must not be
            # mistaken for the next request on this connection. (HTTP/1.x only: HTTP/2 has
            # no such header; there the endpoint drops the rest of the stream — runtime/endpoint.py.)
            response.headers.append(("Connection", "close"))
        if http.method == "HEAD" and not isinstance(response.body, bytes | bytearray):
            close = getattr(response.body, "close", None)
            if close is not None:
                close()
            response.body = b""
        # Set when the server begins to stop (runtime/endpoint.py): event streams end then.
        stopping = (scope.get("state") or {}).get("lakestack.stopping")
        await _send(send, response, loop, self.pool, receive, stopping)

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _internal(self, http: HttpRequest) -> Response:
        if http.raw_path.rstrip("/") == "/_lakestack/health":
            body = {"version": __version__, "status": "running", "services": sorted(self.stack.providers)}
            return Response(200, [("Content-Type", "application/json")], json.dumps(body).encode())
        return Response(404, [("Content-Type", "application/json")], b'{"message": "not found"}')

    async def handle(self, http: HttpRequest, loop) -> Response:
        request_id = self._request_id()
        service, protocol = None, None
        try:
            info = sigv4.parse_auth(http)
            shape = request_protocol(http)
            service = self.index.service_for(info.service, http, shape)
            if info.service is None and service == "s3":
                action = await self._unsigned_query_action(http)
                service = self.index.by_query_action.get(action, service) if action else service
            if service is None:
                service = self.index.known_service_for(info.service, http, shape)
                if service is not None:
                    protocol = choose_protocol(service, shape)
                    raise await self._not_served(service, protocol, http)
                raise AwsError("UnrecognizedClientException", "The security token included in the request is invalid.",
                               status=403) if info.service else AwsError(
                    "MissingAuthenticationToken", "Request is missing Authentication Token", status=403)
            protocol = choose_protocol(service, shape)
            response = await self._dispatch(http, info, service, protocol, request_id, loop)
        except AwsError as error:
            response = self._error(service or "s3", protocol, error, request_id)
        except Exception:
            log.exception("internal error in %s %s", http.method, http.raw_path)
            response = self._error(service or "s3", protocol, internal_error(), request_id)
        if service == "s3" and "origin" in http.headers and http.method != "OPTIONS":
            self._s3_cors_headers(http, response)  # on errors too, as S3 answers
        return response

    def _error(self, service: str, protocol: str | None, error: AwsError, request_id: str) -> Response:
        model = service_model(service, protocol)
        if error.status is None:
            error.status = 400
        response = protocol_module(model.protocol).serialize_error(model, error, request_id)
        response.headers.extend(error.headers.items())
        return response

    async def _not_served(self, service: str, protocol: str, http: HttpRequest) -> AwsError:
        """A service botocore knows but lakestack does not serve yet: say so, in its protocol."""
        body = await self._read_body(http) if protocol == "query" else b""
        try:
            operation, _ = operation_for(service, http, http.raw_path.split("?", 1)[0], body, protocol)
        except Exception:  # routing an unserved service is best effort: the answer is the same
            operation = None
        return not_implemented(service, operation or "*", served=False)

    async def _dispatch(self, http: HttpRequest, info, service: str, protocol: str, request_id: str,
                        loop) -> Response:
        model = service_model(service, protocol)
        path = http.raw_path.split("?", 1)[0]
        if service == "s3":
            bucket = s3_virtual_host_bucket(http.host)
            if bucket:
                path = "/" + quote(bucket) + path
        if service == "s3" and http.method == "OPTIONS":
            await self._read_body(http)  # none is expected; read, it keeps the connection usable
            return self._s3_preflight(http, request_id)
        if service == "s3" and is_s3_post_object(http):
            return await loop.run_in_executor(self.pool, self._s3_post_object, http, request_id)
        body: bytes | None = None
        if protocol == "query":
            body = http.body.read() if isinstance(http.body, BytesBody) else await self._read_body(http)
        operation_name, path_params = operation_for(service, http, path, body, protocol)
        if operation_name is None or operation_name not in model.operation_names:
            raise _unknown_operation(protocol, operation_name, http)
        operation = model.operation_model(operation_name)
        # Only S3 bodies stream; other services sign a hash of the whole body, so read it first.
        streaming = operation.has_streaming_input and service == "s3"
        # "Expect: 100-continue" asks whether the body is wanted: uvicorn says 100 Continue at
        # the first read of it, so such a body is read only once the request is authorized
        # (S3 signs headers only), and a request S3 would refuse is refused without a 100.
        # https://www.rfc-editor.org/rfc/rfc9110#section-10.1.1
        expects_continue = streaming and http.headers.get("expect", "").lower() == "100-continue"
        if streaming and http.http_version != "2" and "content-length" not in http.headers and (
                "transfer-encoding" not in http.headers):
            # An HTTP/1.x upload that states no length at all (neither header): S3 wants one.
            # https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList
            raise AwsError("MissingContentLength", "You must provide the Content-Length HTTP header.", status=411)
        if body is None and not streaming:
            body = await self._read_body(http)
        elif streaming and _declared_length(http) <= SMALL_BODY and not expects_continue:
            # A small streaming body is read here, on the event loop, sparing the worker
            # thread a round trip per chunk; it still flows through SigV4's payload checks.
            await self._read_body(http)
        credential = None
        if info.access_key_id:
            # An in-memory cache answers this; a thread hop would cost more than the lookup.
            credential = self.stack.credentials.lookup(info.access_key_id)
        now = dt.datetime.now(dt.UTC)
        reader = sigv4.verify(http, info, credential, service_protocol=protocol, now=now,
                              max_skew_seconds=self.stack.settings.max_clock_skew, body=body)
        if reader is not None and not streaming:
            body = reader.read()  # an aws-chunked body, decoded (it is already in memory)
        principal = credential.principal if credential is not None else None
        region = info.region or self.stack.settings.region
        provider = self.stack.providers[service]
        ctx = RequestContext(request_id=request_id, service=service, operation=operation_name, region=region,
                             principal=principal, stack=self.stack, http=http, protocol=protocol)
        if reader is not None:
            ctx.extra["body_reader"] = reader
        if not provider.implements(operation_name):
            raise not_implemented(service, operation_name)
        params = protocol_module(protocol).parse_request(
            operation, http, reader if streaming else (body or b""), path_params)
        if operation.input_shape is not None and protocol != "rest-xml":
            problems = validate(operation.input_shape, params)
            if problems:
                raise validation_error(protocol, validation_message(problems))
        if expects_continue:
            self._authorize(provider, ctx, params)
            ctx.extra["authorized"] = True
            if _declared_length(http) <= SMALL_BODY and isinstance(http.body, AsgiBody):
                await http.body.load()  # sends the 100 Continue; a small body is then in memory
        if provider.runs_inline(ctx, params):
            output = self._invoke(provider, ctx, params)
        else:
            output = await loop.run_in_executor(self.pool, self._invoke, provider, ctx, params)
        return protocol_module(protocol).serialize_response(operation, output, ctx)

    # -- S3 requests botocore's model has no operation for ---------------------------------

    def _s3_preflight(self, http: HttpRequest, request_id: str) -> Response:
        """A CORS preflight: unauthenticated, answered from the bucket's CORS rules."""
        bucket, key = s3_bucket_and_key(http)
        if bucket is None:
            raise _unknown_operation("rest-xml", None, http)
        headers = self.stack.providers["s3"].cors_preflight(bucket, key, http.headers)
        return Response(200, [*_s3_request_ids(request_id), *headers.items()], b"")

    def _s3_post_object(self, http: HttpRequest, request_id: str) -> Response:
        """A browser's form upload: authenticated by its form (the provider reads it), then
        authorized as s3:PutObject on the object, like a PutObject."""
        provider = self.stack.providers["s3"]
        bucket = s3_bucket_and_key(http)[0]
        ctx = RequestContext(request_id=request_id, service="s3", operation="PostObject",
                             region=self.stack.settings.region, principal=None, stack=self.stack, http=http,
                             protocol="rest-xml")
        form = provider.read_post_form(ctx, bucket)  # sets ctx.principal (and region) from the form
        self._authorize(provider, ctx, {"Bucket": bucket, "Key": form.key})
        status, headers, body = provider.post_object(ctx, form)
        return Response(status, [*_s3_request_ids(request_id), *headers.items()], body)

    def _s3_cors_headers(self, http: HttpRequest, response: Response) -> None:
        bucket = s3_bucket_and_key(http)[0]
        if bucket is not None:
            response.headers.extend(self.stack.providers["s3"].cors_response_headers(bucket, http).items())

    def _invoke(self, provider, ctx: RequestContext, params: dict):
        if not ctx.extra.get("authorized"):
            self._authorize(provider, ctx, params)
        return getattr(provider, provider.method_name(ctx.operation))(ctx, params)

    def _authorize(self, provider, ctx: RequestContext, params: dict) -> None:
        checks = provider.authorization(ctx, params)
        if not checks:
            return
        principal = ctx.principal
        root = principal is not None and principal.is_root and not principal.session_token
        if not provider.has_resource_policies:
            if principal is None:
                raise AwsError("AccessDenied", "Access Denied", status=403)
            if root:
                return  # the account root's own key may do everything, as on AWS
        context = condition_context(ctx)
        for action, resource in checks:
            if root:
                identity = "Allow"
            elif principal is None:
                identity = "ImplicitDeny"  # anonymous: only a resource's own rules can allow
            else:
                identity = self.stack.authorizer.decide(principal, action, resource, context)
            decision = provider.resource_decision(ctx, action, resource, identity, context)
            if decision != "Allow":
                if principal is None:
                    raise AwsError("AccessDenied", "Access Denied", status=403)
                raise _access_denied(ctx, action, resource, explicit=decision == "Deny")

    async def _unsigned_query_action(self, http: HttpRequest) -> str | None:
        """The Action of an unsigned form-encoded query-protocol request, if it is one."""
        if "Action" in http.query_dict:
            return http.query_dict["Action"]
        if http.method == "POST" and http.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            from lakestack.aws.protocols.query import operation_name

            return operation_name(http, await self._read_body(http))
        return None

    async def _read_body(self, http: HttpRequest) -> bytes:
        declared = http.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BUFFERED_BODY:
            raise AwsError("RequestEntityTooLarge", "Request body is too large", status=413)
        data = await http.body.read_all_async()
        http.body = BytesBody(data)
        return data


def _s3_request_ids(request_id: str) -> list[tuple[str, str]]:
    return [("x-amz-request-id", request_id), ("x-amz-id-2", request_id)]


def _declared_length(http: HttpRequest) -> int:
    declared = http.headers.get("content-length", "")
    return int(declared) if declared.isdigit() else MAX_BUFFERED_BODY


# (epoch second, its aws:CurrentTime text): formatting a time costs more than the rest of the
# context, which S3 builds for every request once buckets may have policies.
_clock: tuple[int, str] = (0, "")


def _current_time() -> tuple[str, str]:
    global _clock
    second = int(time.time())
    clock = _clock
    if clock[0] != second:
        clock = _clock = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
    return clock[1], str(second)


def condition_context(ctx: RequestContext) -> dict:
    """The global condition keys IAM conditions may test."""
    current_time, epoch_time = _current_time()
    context = {
        "aws:CurrentTime": current_time,
        "aws:EpochTime": epoch_time,
        "aws:RequestedRegion": ctx.region,
        # The request came over TLS (the ASGI scope's scheme, set on ctx.http by __call__).
        "aws:SecureTransport": "true" if ctx.http is not None and ctx.http.secure else "false",
    }
    if ctx.principal is not None:
        context["aws:PrincipalArn"] = ctx.principal.source_arn or ctx.principal.arn
        context["aws:PrincipalAccount"] = ctx.principal.account_id
        context["aws:userid"] = ctx.principal.user_id
    if ctx.http is not None:
        context["aws:UserAgent"] = ctx.http.headers.get("user-agent", "")
        client = ctx.http.headers.get("x-forwarded-for") or ctx.http.client_host
        if client:
            context["aws:SourceIp"] = client.split(",")[0].strip()
    return context


def _access_denied(ctx: RequestContext, action: str, resource: str, explicit: bool) -> AwsError:
    if ctx.service == "s3":
        return AwsError("AccessDenied", "Access Denied", status=403)
    protocol = ctx.protocol or service_model(ctx.service).protocol
    code = "AccessDenied" if protocol in ("query", "rest-xml") else "AccessDeniedException"
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
    reason = ("with an explicit deny in an identity-based policy" if explicit
              else f"because no identity-based policy allows the {action} action")
    return AwsError(
        code,
        f"User: {ctx.principal.arn} is not authorized to perform: {action} on resource: {resource} {reason}",
        status=403,
    )


def _unknown_operation(protocol: str, name: str | None, http: HttpRequest) -> AwsError:
    if protocol == "query":
        if not name:
            return AwsError("MissingAction", "Missing Action", status=400)
        return AwsError("InvalidAction", f"The action {name} is not valid for this web service.", status=400)
    if protocol == "json":
        return AwsError("UnknownOperationException", "", status=400)
    if protocol == "smithy-rpc-v2-cbor":
        # The operation is named by the path: a path naming none is a 404, as in the REST protocols.
        return AwsError("UnknownOperationException", f"No operation {name or ''} on this service", status=404)
    if protocol == "rest-xml":
        return AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.",
                        status=405, Method=http.method, ResourceType="OBJECT")
    return AwsError("UnknownOperationException", f"No operation matches {http.method} {http.raw_path}",
                    status=404)


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


async def _wait_disconnect(receive) -> None:
    # Only used once the request body has been read whole: what remains is the disconnect.
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send(send, response: Response, loop, pool, receive=None, stopping: asyncio.Event | None = None) -> None:
    body = response.body
    headers = [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in response.headers]
    has_length = any(k.lower() == "content-length" for k, _ in response.headers)
    if isinstance(body, bytes | bytearray):
        if not has_length:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": bytes(body)})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    try:
        if hasattr(body, "read"):
            while True:
                chunk = await loop.run_in_executor(pool, body.read, STREAM_CHUNK)
                if not chunk:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:
            iterator = iter(body)
            gone = asyncio.ensure_future(_wait_disconnect(receive)) if (
                response.watch_disconnect and receive is not None) else None
            try:
                while (gone is None or not gone.done()) and not (stopping is not None and stopping.is_set()):
                    chunk = await loop.run_in_executor(pool, next, iterator, None)
                    if chunk is None:
                        break
                    if chunk:  # an empty chunk is the producer's chance to notice a disconnect
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
            finally:
                if gone is not None:
                    gone.cancel()
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            await loop.run_in_executor(pool, close) if response.watch_disconnect else close()
    await send({"type": "http.response.body", "body": b""})
