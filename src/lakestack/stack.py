"""A running lakestack: settings, providers, credentials and the authorizer, wired together.

Services reach each other only through `Stack.call`, as a named principal, so a
cross-service call is authorized exactly like a client call.
"""

from __future__ import annotations

import logging
import uuid

from lakestack.aws.context import Principal, RequestContext
from lakestack.aws.errors import AwsError
from lakestack.services.registry import PROVIDERS, load_provider_class
from lakestack.settings import Settings

log = logging.getLogger("lakestack")


class Stack:
    def __init__(self, settings: Settings):
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.providers = {name: load_provider_class(name)(self) for name in PROVIDERS}
        iam = self.providers["iam"]
        # IAM owns identities: it answers "whose key is this?" and "may they do this?".
        self.credentials = iam.credentials
        self.authorizer = iam.authorizer
        for provider in self.providers.values():
            provider.start()

    def provider(self, service: str):
        return self.providers[service]

    def close(self) -> None:
        for provider in self.providers.values():
            try:
                provider.stop()
            except Exception:  # keep shutting the others down
                log.exception("stopping %s", provider.service)

    def call(self, service: str, operation: str, params: dict, principal: Principal,
             region: str | None = None) -> dict:
        """Call another service's operation as `principal`, authorized like a client call."""
        provider = self.providers[service]
        ctx = RequestContext(
            request_id=str(uuid.uuid4()),
            service=service,
            operation=operation,
            region=region or self.settings.region,
            principal=principal,
            stack=self,
        )
        for action, resource in provider.authorization(ctx, params):
            decision = self.authorizer.decide(principal, action, resource, {})
            if provider.has_resource_policies:  # a bucket policy's Deny binds other services too
                decision = provider.resource_decision(ctx, action, resource, decision, {})
            if decision != "Allow":
                raise AwsError("AccessDenied", f"{principal.arn} is not authorized to perform: {action} on "
                               f"resource: {resource}", status=403)
        return getattr(provider, provider.method_name(operation))(ctx, params)
