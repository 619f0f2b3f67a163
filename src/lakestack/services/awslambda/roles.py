"""Sessions of execution roles for Lambda's own work as a function's role (reading a Kinesis
stream for a mapping, checking a destination), reused until close to expiry so that
polling does not mint a session per call."""

from __future__ import annotations

import datetime as dt
import threading

from lakestack.aws.context import Credential, Principal
from lakestack.aws.errors import AwsError
from lakestack.services.awslambda import errors

MARGIN = dt.timedelta(minutes=5)


class RoleSessions:
    def __init__(self, stack):
        self.stack = stack
        self._cache: dict[tuple[str, str], Credential] = {}
        self._lock = threading.Lock()

    def principal(self, role_arn: str, function_arn: str, account: str, region: str) -> Principal:
        """The role's principal as Lambda uses it; InvalidParameterValueException if Lambda
        may not assume it."""
        key = (role_arn, region)
        with self._lock:
            credential = self._cache.get(key)
        now = dt.datetime.now(dt.UTC)
        if credential is None or (credential.expiration is not None and credential.expiration - MARGIN <= now):
            try:
                credential = self.stack.provider("sts").assume_role_for_service(
                    role_arn, "lambda.amazonaws.com", "awslambda", duration=3600,
                    context={"aws:SourceAccount": account, "aws:SourceArn": function_arn}, region=region)
            except AwsError:
                raise errors.invalid_parameter("The role defined for the function cannot be assumed by Lambda.") \
                    from None
            with self._lock:
                self._cache[key] = credential
        return credential.principal

    def is_allowed(self, principal: Principal, action: str, resource: str) -> bool:
        return self.stack.authorizer.is_allowed(principal, action, resource, {})
