"""Lambda's operations: thin glue from typed params to functions, versions, aliases, layers,
policies, invocations and event source mappings.

Metadata lives in `<state>/lambda.db`, code under `<home>/lambda/` (store.py, code.py).
Functions run in worker processes (environments.py, bootstrap.py); their logs go to
CloudWatch Logs as the function's role (function_logs.py).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from lakestack.aws.errors import AwsError
from lakestack.services.awslambda import (
    authorization,
    concurrency,
    deployment_packages,
    errors,
    event_invoke_configs,
    latest_configuration,
    payloads,
    permissions,
    versions,
)
from lakestack.services.awslambda.asynchronous import FAILED, GONE, SUCCEEDED, AsyncQueue, QueuedEvent
from lakestack.services.awslambda.code import CodeStore
from lakestack.services.awslambda.destinations import Destinations
from lakestack.services.awslambda.environments import Environments, environment_key
from lakestack.services.awslambda.event_source_mappings import EventSourceMappings
from lakestack.services.awslambda.function_logs import LogShipper
from lakestack.services.awslambda.functions import Catalog, Function, Version, new_revision, timestamp
from lakestack.services.awslambda.invocations import Invoker, Outcome
from lakestack.services.awslambda.layers import Layers
from lakestack.services.awslambda.names import LATEST, FunctionRef, is_version, parse, parse_layer_version_arn
from lakestack.services.awslambda.pagination import page
from lakestack.services.awslambda.qualifiers import named_version
from lakestack.services.awslambda.states import Preparer, mark_pending, mark_updating, wait_ready
from lakestack.services.awslambda.store import open_store
from lakestack.services.base import Provider

log = logging.getLogger("lakestack.lambda")

# ListFunctions answers a subset of each configuration: no state fields.
# https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html
_NOT_LISTED = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
               "LastUpdateStatusReasonCode", "RuntimeVersionConfig")


class LambdaProvider(Provider):
    service = "lambda"
    # Synchronous invocations each hold one of the gateway's worker threads (64) while the
    # function runs; past this many at once, more are throttled so that the server (and
    # functions calling back into it) keep threads to answer with.
    max_sync_invocations = 48

    def __init__(self, stack):
        super().__init__(stack)
        settings = stack.settings
        self.root = Path(settings.home) / "lambda"
        self.db = open_store(settings.state_dir)
        self.code = CodeStore(self.root)
        self.catalog = Catalog(self.db)
        self.layers = Layers(self.db)
        self.preparer = Preparer(self.catalog, self.code)
        self.environments = Environments(stack, self.code, self.root)
        self.shipper = LogShipper(stack)
        self.invoker = Invoker(self.environments, self.shipper)
        self.queue = AsyncQueue(self.db, self._run_queued, self._queue_policy)
        self._sync_slots = threading.BoundedSemaphore(self.max_sync_invocations)
        self.destinations = Destinations(self)
        self.mappings = EventSourceMappings(self)

    def start(self) -> None:
        self._collect_code()
        self.preparer.resume()
        self.environments.start()
        self.shipper.start()
        self.queue.start()
        self.mappings.start()

    def stop(self) -> None:
        # Tell everything to stop, end running invocations, then wait for the threads:
        # a function that hangs must not hold up shutdown.
        self.mappings.signal_stop()
        self.queue.signal_stop()
        self.environments.stop()
        self.mappings.stop()
        self.queue.stop()
        self.preparer.stop()
        self.shipper.stop()
        self.db.close()

    def authorization(self, ctx, params):
        return authorization.checks(ctx, params, self.mappings.arn)

    # -- helpers -----------------------------------------------------------------------------

    def _ref(self, ctx, params, qualifier_key: str = "Qualifier") -> FunctionRef:
        return parse(params["FunctionName"], ctx.account_id, ctx.region, params.get(qualifier_key))

    def _function(self, ctx, params) -> Function:
        return self.catalog.require(self._ref(ctx, params))

    def _collect_code(self) -> None:
        deployment_packages.collect_unused(self.code, self.catalog, self.layers)

    # -- functions ---------------------------------------------------------------------------

    def create_function(self, ctx, params):
        ref = self._ref(ctx, params)
        environment = latest_configuration.check_create(ref, params)
        if self.catalog.get(ref.account, ref.region, ref.name) is not None:
            raise errors.conflict(f"Function already exist: {ref.name}")
        latest_configuration.check_role(self.stack, params["Role"], ref.name, ctx)
        layers, layer_shas = latest_configuration.function_layers(self.layers, ctx, params.get("Layers"))
        package = deployment_packages.function_package(self.stack, self.code, ctx, params["Code"])
        config = latest_configuration.new_configuration(ref, params, package, environment, layers)
        mark_pending(config)
        function = Function(ref.account, ref.region, ref.name, versions={LATEST: Version(config, package.sha_hex,
                                                                                         layer_shas)},
                            tags=dict(params.get("Tags") or {}))
        self.catalog.add(function)
        output = function.latest.output()
        self.preparer.schedule(function)
        if params.get("Publish"):
            wait_ready(function)
            with self.catalog.lock:
                published = versions.publish(function, {})
                self.catalog.save(function)
            output = published.output()
        return output

    def get_function(self, ctx, params):
        function, version = named_version(self.catalog, self._ref(ctx, params))
        out = {"Configuration": version.output(),
               "Code": {"RepositoryType": "S3", "Location": deployment_packages.location(self.code,
                                                                                       version.code_sha)}}
        if function.tags:
            out["Tags"] = dict(function.tags)
        if function.reserved_concurrency is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
        return out

    def get_function_configuration(self, ctx, params):
        return named_version(self.catalog, self._ref(ctx, params))[1].output()

    def list_functions(self, ctx, params):
        everything = params.get("FunctionVersion") == "ALL"
        configs = []
        for function in self.catalog.all(ctx.account_id, ctx.region):
            configs.append(function.latest.output())
            if everything:
                configs.extend(v.output() for v in function.published())
        for config in configs:
            for key in _NOT_LISTED:
                config.pop(key, None)
        found, marker = page(configs, params)
        return {"Functions": found, "NextMarker": marker}

    def update_function_code(self, ctx, params):
        ref = self._ref(ctx, params)
        if ref.qualifier:
            raise errors.invalid_parameter("Qualifiers are not allowed in the function name of UpdateFunctionCode.")
        function = self.catalog.require(ref)
        wait_ready(function)
        package = deployment_packages.function_package(self.stack, self.code, ctx, params)
        with self.catalog.lock:
            config = function.latest.config
            if params.get("RevisionId") and params["RevisionId"] != config["RevisionId"]:
                raise errors.precondition_failed()
            if params.get("DryRun"):
                return function.latest.output()
            config.update(CodeSha256=package.sha256, CodeSize=package.size, LastModified=timestamp(),
                          RevisionId=new_revision())
            if params.get("Architectures"):
                config["Architectures"] = params["Architectures"]
            function.latest.code_sha = package.sha_hex
            mark_updating(config)
            self.catalog.save(function)
            output = function.latest.output()
        self.environments.retire(function)
        self.preparer.schedule(function)
        if params.get("Publish"):
            wait_ready(function)
            with self.catalog.lock:
                output = versions.publish(function, {}).output()
                self.catalog.save(function)
        return output

    def update_function_configuration(self, ctx, params):
        ref = self._ref(ctx, params)
        if ref.qualifier:
            raise errors.invalid_parameter("Qualifiers are not allowed in the function name of "
                                           "UpdateFunctionConfiguration.")
        function = self.catalog.require(ref)
        wait_ready(function)
        environment = latest_configuration.check_update(params)
        if params.get("Role"):
            latest_configuration.check_role(self.stack, params["Role"], ref.name, ctx)
        layers = layer_shas = None
        if "Layers" in params:
            layers, layer_shas = latest_configuration.function_layers(self.layers, ctx, params["Layers"])
        with self.catalog.lock:
            config = function.latest.config
            if params.get("RevisionId") and params["RevisionId"] != config["RevisionId"]:
                raise errors.precondition_failed()
            latest_configuration.apply_update(function.latest, ref, params, environment, layers, layer_shas)
            mark_updating(config)
            self.catalog.save(function)
            output = function.latest.output()
        self.environments.retire(function)
        self.preparer.schedule(function)
        return output

    def delete_function(self, ctx, params):
        ref = self._ref(ctx, params)
        function = self.catalog.require(ref)
        if ref.qualifier:
            if not is_version(ref.qualifier):
                raise errors.invalid_parameter("Deletion of aliases is not supported.")
            with self.catalog.lock:
                if ref.qualifier not in function.versions:
                    raise errors.function_not_found(ref.arn)
                versions.check_deletable(function, ref.qualifier)
                del function.versions[ref.qualifier]
                function.policies.pop(ref.qualifier, None)
                self.catalog.save(function)
            self.environments.retire(function, keep={environment_key(function, v) for v in function.versions.values()})
            return {}
        self.catalog.remove(function)
        self.environments.retire(function)
        self.queue.drop_function(function.account, function.region, function.name)
        self._collect_code()
        return {}

    # -- versions and aliases -----------------------------------------------------------------

    def publish_version(self, ctx, params):
        function = self._function(ctx, params)
        wait_ready(function)
        with self.catalog.lock:
            version = versions.publish(function, params)
            self.catalog.save(function)
        return version.output()

    def list_versions_by_function(self, ctx, params):
        function = self._function(ctx, params)
        configs = [function.latest.output()] + [v.output() for v in function.published()]
        found, marker = page(configs, params)
        return {"Versions": found, "NextMarker": marker}

    def create_alias(self, ctx, params):
        function = self._function(ctx, params)
        with self.catalog.lock:
            alias = versions.create_alias(function, params)
            self.catalog.save(function)
        return dict(alias)

    def get_alias(self, ctx, params):
        return dict(versions.get_alias(self._function(ctx, params), params["Name"]))

    def update_alias(self, ctx, params):
        function = self._function(ctx, params)
        with self.catalog.lock:
            alias = versions.update_alias(function, params)
            self.catalog.save(function)
        return dict(alias)

    def delete_alias(self, ctx, params):
        function = self._function(ctx, params)
        with self.catalog.lock:
            if function.aliases.pop(params["Name"], None) is not None:
                function.policies.pop(params["Name"], None)
                self.catalog.save(function)
        return {}

    def list_aliases(self, ctx, params):
        function = self._function(ctx, params)
        aliases = [dict(a) for _, a in sorted(function.aliases.items())
                   if not params.get("FunctionVersion") or a["FunctionVersion"] == params["FunctionVersion"]]
        found, marker = page(aliases, params)
        return {"Aliases": found, "NextMarker": marker}

    # -- layers ------------------------------------------------------------------------------

    def publish_layer_version(self, ctx, params):
        package = deployment_packages.layer_package(self.stack, self.code, ctx, params["Content"])
        return self.layers.publish(ctx.account_id, ctx.region, params["LayerName"], params, package.sha_hex,
                                   package.sha256, package.size,
                                   deployment_packages.location(self.code, package.sha_hex))

    def _layer_name(self, ctx, text: str) -> tuple[str, str, str]:
        """(region, account, name) of a LayerName parameter: a name or a layer ARN."""
        if text.startswith("arn:"):
            parts = text.split(":")
            return parts[3], parts[4], parts[6]
        return ctx.region, ctx.account_id, text

    def get_layer_version(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        return dict(self.layers.version(account, region, name, params["VersionNumber"])["info"])

    def get_layer_version_by_arn(self, ctx, params):
        parsed = parse_layer_version_arn(params["Arn"])
        if parsed is None:
            raise errors.invalid_parameter(f"Invalid layer version ARN: {params['Arn']}")
        region, account, name, number = parsed
        return dict(self.layers.version(account, region, name, number)["info"])

    def list_layer_versions(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        layer = self.layers.get(account, region, name)
        infos = [] if layer is None else [dict(v["info"]) for _, v in sorted(layer.versions.items(), reverse=True)]
        if params.get("CompatibleRuntime"):
            infos = [i for i in infos if params["CompatibleRuntime"] in i.get("CompatibleRuntimes", [])]
        if params.get("CompatibleArchitecture"):
            infos = [i for i in infos if params["CompatibleArchitecture"] in i.get("CompatibleArchitectures", [])]
        for info in infos:
            info.pop("Content", None)
            info.pop("LayerArn", None)
        found, marker = page(infos, params)
        return {"LayerVersions": found, "NextMarker": marker}

    def list_layers(self, ctx, params):
        out = []
        for layer in self.layers.all(ctx.account_id, ctx.region):
            latest = dict(layer.versions[max(layer.versions)]["info"])
            latest.pop("Content", None)
            latest.pop("LayerArn", None)
            out.append({"LayerName": layer.name, "LayerArn": layer.arn, "LatestMatchingVersion": latest})
        found, marker = page(out, params)
        return {"Layers": found, "NextMarker": marker}

    def delete_layer_version(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        self.layers.delete_version(account, region, name, params["VersionNumber"])
        return {}

    def add_layer_version_permission(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        statement, revision = permissions.add_layer_permission(self.layers, region, account, name, params)
        return {"Statement": json.dumps(statement), "RevisionId": revision}

    def get_layer_version_policy(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        policy, revision = permissions.layer_policy(self.layers, region, account, name, params["VersionNumber"])
        return {"Policy": json.dumps(policy), "RevisionId": revision}

    def remove_layer_version_permission(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        permissions.remove_layer_permission(self.layers, region, account, name, params)
        return {}

    # -- resource policies ---------------------------------------------------------------------

    def add_permission(self, ctx, params):
        statement = permissions.add_function_permission(self.catalog, self._ref(ctx, params), params)
        return {"Statement": json.dumps(statement)}

    def remove_permission(self, ctx, params):
        permissions.remove_function_permission(self.catalog, self._ref(ctx, params), params)
        return {}

    def get_policy(self, ctx, params):
        policy, revision = permissions.function_policy(self.catalog, self._ref(ctx, params))
        return {"Policy": json.dumps(policy), "RevisionId": revision}

    # -- concurrency, tags, account ------------------------------------------------------------

    def put_function_concurrency(self, ctx, params):
        function = self._function(ctx, params)
        wanted = params["ReservedConcurrentExecutions"]
        concurrency.check_reservation(function, wanted, self.catalog.all(ctx.account_id, ctx.region))
        with self.catalog.lock:
            function.reserved_concurrency = wanted
            self.catalog.save(function)
        return {"ReservedConcurrentExecutions": wanted}

    def get_function_concurrency(self, ctx, params):
        function = self._function(ctx, params)
        if function.reserved_concurrency is None:
            return {}
        return {"ReservedConcurrentExecutions": function.reserved_concurrency}

    def delete_function_concurrency(self, ctx, params):
        function = self._function(ctx, params)
        with self.catalog.lock:
            function.reserved_concurrency = None
            self.catalog.save(function)
        return {}

    def get_account_settings(self, ctx, params):
        return concurrency.account_settings(self.catalog.all(ctx.account_id, ctx.region))

    def _tagged(self, ctx, arn: str):
        """(owner object, save function) for a taggable ARN: a function or a mapping."""
        if ":event-source-mapping:" in arn:
            return self.mappings.taggable(ctx, arn)
        ref = parse(arn, ctx.account_id, ctx.region)
        if ref.qualifier:
            raise errors.invalid_parameter("Tags are not supported on function versions or aliases.")
        function = self.catalog.require(ref)
        return function, lambda: self.catalog.save(function)

    def tag_resource(self, ctx, params):
        owner, save = self._tagged(ctx, params["Resource"])
        with self.catalog.lock:
            owner.tags.update(params["Tags"])
            save()
        return {}

    def untag_resource(self, ctx, params):
        owner, save = self._tagged(ctx, params["Resource"])
        with self.catalog.lock:
            for key in params["TagKeys"]:
                owner.tags.pop(key, None)
            save()
        return {}

    def list_tags(self, ctx, params):
        owner, _ = self._tagged(ctx, params["Resource"])
        return {"Tags": dict(owner.tags)}

    # -- asynchronous invocation configuration ---------------------------------------------------

    def put_function_event_invoke_config(self, ctx, params):
        return event_invoke_configs.put(self.catalog, self.destinations, ctx, self._ref(ctx, params), params,
                                        replace=True)

    def update_function_event_invoke_config(self, ctx, params):
        return event_invoke_configs.put(self.catalog, self.destinations, ctx, self._ref(ctx, params), params,
                                        replace=False)

    def get_function_event_invoke_config(self, ctx, params):
        return event_invoke_configs.get(self.catalog, self._ref(ctx, params))

    def delete_function_event_invoke_config(self, ctx, params):
        event_invoke_configs.delete(self.catalog, self._ref(ctx, params))
        return {}

    def list_function_event_invoke_configs(self, ctx, params):
        configs = event_invoke_configs.all_of(self._function(ctx, params))
        found, marker = page(configs, params)
        return {"FunctionEventInvokeConfigs": found, "NextMarker": marker}

    # -- invoking -----------------------------------------------------------------------------

    def invoke(self, ctx, params):
        ref = self._ref(ctx, params)
        function, version = self.catalog.resolve(ref)
        kind = params.get("InvocationType") or "RequestResponse"
        payload = params.get("Payload") or b""
        if kind == "DryRun":
            return {"StatusCode": 204}
        payloads.check_json(payload)
        if kind == "Event":
            payloads.check_size(payload, payloads.MAX_ASYNC_PAYLOAD)
            self.queue.enqueue(ref.account, ref.region, ref.name, ref.qualifier, ctx.request_id, payload)
            return {"StatusCode": 202}
        payloads.check_size(payload, payloads.MAX_SYNC_PAYLOAD)
        if version.number == LATEST:
            wait_ready(function)
        if not self._sync_slots.acquire(blocking=False):
            raise errors.too_many_requests("ConcurrentInvocationLimitExceeded")
        try:
            outcome = self.invoker.invoke(function, version, payload, ctx.request_id, ref.arn,
                                          payloads.client_context(params.get("ClientContext")),
                                          tail=params.get("LogType") == "Tail")
        finally:
            self._sync_slots.release()
        return {"StatusCode": 200, "Payload": outcome.payload, "FunctionError": outcome.function_error,
                "LogResult": outcome.log_tail, "ExecutedVersion": outcome.executed_version}

    def invoke_async(self, ctx, params):
        # The deprecated InvokeAsync: an Event invocation answered with 202.
        ref = self._ref(ctx, params)
        self.catalog.resolve(ref)
        payload = params.get("InvokeArgs") or b""
        if not isinstance(payload, bytes | bytearray):
            payload = payload.read()
        payloads.check_json(payload)
        self.queue.enqueue(ref.account, ref.region, ref.name, ref.qualifier, ctx.request_id, bytes(payload))
        return {"Status": 202}

    def invoke_internal(self, ref: FunctionRef, payload: bytes, request_id: str) -> Outcome:
        """A synchronous invocation by Lambda itself (event source mappings): no
        permission check — the mapping was authorized when it was created, as on AWS."""
        function, version = self.catalog.resolve(ref)
        if version.number == LATEST:
            wait_ready(function)
        return self.invoker.invoke(function, version, payload, request_id, ref.arn)

    def _run_queued(self, event: QueuedEvent) -> str:
        ref = FunctionRef(event.account, event.region, event.function_name, event.qualifier)
        try:
            function, version = self.catalog.resolve(ref)
        except AwsError:
            return GONE
        if version.number == LATEST:
            wait_ready(function)
        outcome = self.invoker.invoke(function, version, event.payload, event.request_id, ref.arn)
        max_retries, _ = self._queue_policy(event)
        if outcome.function_error is None:
            self.destinations.deliver(function, ref, event, outcome, "Success")
            return SUCCEEDED
        if event.attempts >= max_retries:
            self.destinations.deliver(function, ref, event, outcome, "RetriesExhausted")
        return FAILED

    def _queue_policy(self, event: QueuedEvent) -> tuple[int, int]:
        return event_invoke_configs.retry_policy(self.catalog, event)

    # -- for other services -----------------------------------------------------------------------

    def may_invoke_as_service(self, function_arn_text: str, service: str, source_arn: str | None,
                              source_account: str | None) -> bool:
        """May `service` (e.g. "s3.amazonaws.com") invoke this function on behalf of
        `source_arn`? Decided by the function's resource policy (AddPermission), for the
        version or alias named in the ARN. False if there is no such function."""
        return permissions.service_may_invoke(self.catalog, function_arn_text, service, source_arn, source_account)

    def invoke_as_service(self, function_arn_text: str, service: str, source_arn: str | None,
                          source_account: str | None, payload: bytes, request_id: str) -> bool:
        """An asynchronous invocation by another service (S3 event notifications). The
        event is queued durably if the function's policy allows the service; returns
        whether it was."""
        if not self.may_invoke_as_service(function_arn_text, service, source_arn, source_account):
            log.warning("%s may not invoke %s for %s; event dropped", service, function_arn_text, source_arn)
            return False
        ref = permissions.service_target(function_arn_text, source_account)
        self.queue.enqueue(ref.account, ref.region, ref.name, ref.qualifier, request_id, payload)
        return True

    # -- event source mappings ---------------------------------------------------------------------

    def create_event_source_mapping(self, ctx, params):
        return self.mappings.create(ctx, params)

    def get_event_source_mapping(self, ctx, params):
        return self.mappings.get(ctx, params["UUID"])

    def update_event_source_mapping(self, ctx, params):
        return self.mappings.update(ctx, params)

    def delete_event_source_mapping(self, ctx, params):
        return self.mappings.delete(ctx, params["UUID"])

    def list_event_source_mappings(self, ctx, params):
        found = self.mappings.list(ctx, params.get("EventSourceArn"), params.get("FunctionName"))
        found, marker = page(found, params)
        return {"EventSourceMappings": found, "NextMarker": marker}
