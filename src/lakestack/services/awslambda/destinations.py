"""Destinations for asynchronous invocations: after an event succeeds (OnSuccess) or runs
out of retries (OnFailure), an invocation record goes to another function.
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html

Functions are the destinations lakestack can deliver to (SQS, SNS, EventBridge and S3
destinations are refused until lakestack serves those). As on AWS, the function's
execution role needs lambda:InvokeFunction on the destination; the record is delivered
as an asynchronous invocation of it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import TYPE_CHECKING

from lakestack.aws.errors import AwsError
from lakestack.services.awslambda import errors
from lakestack.services.awslambda.names import LATEST, parse
from lakestack.services.awslambda.roles import RoleSessions

if TYPE_CHECKING:
    from lakestack.services.awslambda.asynchronous import QueuedEvent
    from lakestack.services.awslambda.functions import Function
    from lakestack.services.awslambda.invocations import Outcome
    from lakestack.services.awslambda.names import FunctionRef

log = logging.getLogger("lakestack.lambda")


class Destinations:
    def __init__(self, provider):
        self.provider = provider
        self.roles = RoleSessions(provider.stack)

    def check(self, ctx, config: dict) -> None:
        for when in ("OnSuccess", "OnFailure"):
            arn = (config.get(when) or {}).get("Destination")
            if not arn:
                continue
            if ":lambda:" not in arn:
                service = arn.split(":")[2] if arn.count(":") >= 2 else arn
                raise errors.invalid_parameter(f"The destination ARN {arn} is invalid: lakestack delivers asynchronous "
                                               f"invocation records to Lambda functions only, not to {service}.")
            try:
                ref = parse(arn, ctx.account_id, ctx.region)
                self.provider.catalog.resolve(ref)
            except AwsError:
                raise errors.invalid_parameter(f"The destination ARN {arn} is invalid.") from None

    def deliver(self, function: Function, ref: FunctionRef, event: QueuedEvent, outcome: Outcome,
                condition: str) -> None:
        config = function.invoke_configs.get(ref.qualifier or LATEST) or {}
        when = "OnSuccess" if condition == "Success" else "OnFailure"
        target = ((config.get("DestinationConfig") or {}).get(when) or {}).get("Destination")
        if not target:
            return
        try:
            version = function.versions.get(outcome.executed_version) or function.latest
            principal = self.roles.principal(version.config["Role"], function.arn, function.account, function.region)
            if not self.roles.is_allowed(principal, "lambda:InvokeFunction", target):
                log.warning("%s's role may not invoke destination %s; record dropped", function.name, target)
                return
            destination = parse(target, function.account, function.region)
            self.provider.catalog.resolve(destination)
        except AwsError as exc:
            log.warning("destination %s of %s unusable: %s", target, function.name, exc.message)
            return
        record = _record(ref.arn if ref.qualifier else f"{ref.arn}:{LATEST}", event, outcome, condition)
        self.provider.queue.enqueue(destination.account, destination.region, destination.name, destination.qualifier,
                                    str(uuid.uuid4()), json.dumps(record).encode())


def _record(function_arn: str, event: QueuedEvent, outcome: Outcome, condition: str) -> dict:
    now = dt.datetime.now(dt.UTC)
    response: dict = {"statusCode": 200, "executedVersion": outcome.executed_version}
    if outcome.function_error:
        response["functionError"] = outcome.function_error
    return {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {"requestId": event.request_id, "functionArn": function_arn, "condition": condition,
                           "approximateInvokeCount": event.attempts + 1},
        "requestPayload": _json_or_text(event.payload),
        "responseContext": response,
        "responsePayload": _json_or_text(outcome.payload),
    }


def _json_or_text(data: bytes):
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")
