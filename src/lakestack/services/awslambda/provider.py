"""Lambda's operations: thin glue from typed params to functions, versions, aliases, layers,
policies, invocations and event source mappings.

Metadata lives in `<state>/lambda.db`, code under `<home>/lambda/` (store.py, code.py).
Functions run in worker processes (environments.py, bootstrap.py); their logs go to
CloudWatch Logs as the function's role (function_logs.py).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from pathlib import Path

from lakestack.aws.errors import AwsError
from lakestack.services.awslambda import configuration, errors, policies, versions
from lakestack.services.awslambda.asynchronous import FAILED, GONE, SUCCEEDED, AsyncQueue, QueuedEvent
from lakestack.services.awslambda.code import MAX_S3_ZIP, CodeStore, Package
from lakestack.services.awslambda.destinations import Destinations
from lakestack.services.awslambda.environments import ACCOUNT_CONCURRENCY, Environments
from lakestack.services.awslambda.event_source_mappings import EventSourceMappings
from lakestack.services.awslambda.function_logs import LogShipper
from lakestack.services.awslambda.functions import Catalog, Function, Version, new_revision, timestamp
from lakestack.services.awslambda.invocations import Invoker, Outcome
from lakestack.services.awslambda.layers import Layers, layer_statement
from lakestack.services.awslambda.names import LATEST, FunctionRef, function_arn, is_version, layer_arn, parse
from lakestack.services.awslambda.states import Preparer, mark_pending, mark_updating, wait_ready
from lakestack.services.awslambda.store import open_store
from lakestack.services.base import Provider

log = logging.getLogger("lakestack.lambda")

# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024
MIN_UNRESERVED = 100
# IAM action names that differ from the operation's name.
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html
_ACTION_NAMES = {"Invoke": "InvokeFunction", "GetLayerVersionByArn": "GetLayerVersion"}
_NO_FUNCTION_RESOURCE = {"CreateEventSourceMapping", "ListEventSourceMappings", "ListFunctions", "ListLayers",
                         "GetAccountSettings"}
_NOT_LISTED = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
               "LastUpdateStatusReasonCode", "RuntimeVersionConfig")
_FUNCTION_FIELDS = ("Description", "Timeout", "MemorySize", "Handler", "Runtime", "Role", "TracingConfig",
                    "DeadLetterConfig", "VpcConfig", "KMSKeyArn", "EphemeralStorage")


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

    # -- IAM ---------------------------------------------------------------------------------

    def authorization(self, ctx, params):
        op = ctx.operation
        action = f"lambda:{_ACTION_NAMES.get(op, op)}"
        resource = "*"
        try:
            if op not in _NO_FUNCTION_RESOURCE and params.get("FunctionName"):
                resource = self._ref(ctx, params).arn
            elif params.get("LayerName"):
                name = params["LayerName"].rsplit(":", 1)[-1] if params["LayerName"].startswith("arn:") else \
                    params["LayerName"]
                resource = layer_arn(ctx.region, ctx.account_id, name, params.get("VersionNumber"))
            elif op == "GetLayerVersionByArn":
                resource = params["Arn"]
            elif params.get("UUID"):
                resource = self.mappings.arn(ctx.region, ctx.account_id, params["UUID"])
            elif params.get("Resource"):
                resource = params["Resource"]
        except AwsError:
            resource = "*"  # a malformed name: the operation answers the error
        checks = [(action, resource)]
        if op in ("CreateFunction", "UpdateFunctionConfiguration") and params.get("Role"):
            # Handing a role to Lambda needs iam:PassRole on it, as on AWS.
            checks.append(("iam:PassRole", params["Role"]))
        return checks

    # -- helpers -----------------------------------------------------------------------------

    def _ref(self, ctx, params, qualifier_key: str = "Qualifier") -> FunctionRef:
        return parse(params["FunctionName"], ctx.account_id, ctx.region, params.get(qualifier_key))

    def _function(self, ctx, params) -> Function:
        return self.catalog.require(self._ref(ctx, params))

    def _package(self, ctx, code: dict) -> Package:
        if code.get("ImageUri"):
            raise errors.invalid_parameter("lakestack runs .zip deployment packages only; container images are not "
                                           "supported.")
        if code.get("ZipFile") is not None:
            return self.code.save(code["ZipFile"])
        if code.get("S3Bucket") and code.get("S3Key"):
            return self.code.save(self._read_s3(ctx, code["S3Bucket"], code["S3Key"], code.get("S3ObjectVersion")),
                                  limit=MAX_S3_ZIP)
        raise errors.invalid_parameter("Please provide a source for function code.")

    def _read_s3(self, ctx, bucket: str, key: str, version: str | None) -> bytes:
        """The package from S3, read as the caller (who must be allowed s3:GetObject)."""
        params = {"Bucket": bucket, "Key": key}
        if version:
            params["VersionId"] = version
        try:
            body = self.stack.call("s3", "GetObject", params, ctx.principal, region=ctx.region)["Body"]
        except AwsError as exc:
            raise errors.invalid_parameter(f"Error occurred while GetObject. S3 Error Code: {exc.code}. S3 Error "
                                           f"Message: {exc.message}") from None
        if isinstance(body, bytes | bytearray):
            return bytes(body)
        try:
            return body.read()
        finally:
            body.close()

    def _location(self, sha_hex: str) -> str:
        # AWS answers a presigned S3 URL valid for ten minutes; here, the stored zip itself.
        return self.code.zip_path(sha_hex).as_uri()

    def _layer_list(self, ctx, arns: list[str] | None) -> tuple[list[dict], list[str]]:
        """(FunctionConfiguration.Layers, layer package hashes) for the Layers parameter."""
        arns = list(arns or [])
        if len(arns) > configuration.MAX_LAYERS:
            raise errors.invalid_parameter(f"Cannot reference more than {configuration.MAX_LAYERS} layers.")
        seen: dict[str, str] = {}
        out, shas = [], []
        for arn in arns:
            base = arn.rsplit(":", 1)[0]
            if base in seen:
                raise errors.invalid_parameter(
                    f"Two different versions of the same layer are not allowed to be referenced in the same function. "
                    f"{seen[base]} and {arn} are versions of the same layer.")
            seen[base] = arn
            found = self.layers.for_function(arn, ctx.account_id)
            out.append({"Arn": arn, "CodeSize": found["info"]["Content"]["CodeSize"]})
            shas.append(found["sha"])
        return out, shas

    def _check_role(self, role: str, name: str, ctx) -> None:
        configuration.check_role(role)
        try:
            self.stack.provider("sts").assume_role_for_service(role, "lambda.amazonaws.com", name, duration=900,
                                                               region=ctx.region)
        except AwsError:
            raise errors.invalid_parameter("The role defined for the function cannot be assumed by Lambda.") from None

    # -- functions ---------------------------------------------------------------------------

    def create_function(self, ctx, params):
        ref = self._ref(ctx, params)
        if ref.qualifier:
            raise errors.invalid_parameter("Qualifiers are not allowed in the function name of CreateFunction.")
        if params.get("PackageType") == "Image":
            raise errors.invalid_parameter("lakestack runs .zip deployment packages only; container images are not "
                                           "supported.")
        configuration.check_runtime(params.get("Runtime"))
        if not params.get("Handler"):
            raise errors.invalid_parameter("Runtime and Handler are mandatory parameters for functions created with "
                                           "deployment packages.")
        configuration.check_limits(params.get("Timeout"), params.get("MemorySize"))
        environment = configuration.check_environment(params.get("Environment"))
        if self.catalog.get(ref.account, ref.region, ref.name) is not None:
            raise errors.conflict(f"Function already exist: {ref.name}")
        self._check_role(params["Role"], ref.name, ctx)
        layers, layer_shas = self._layer_list(ctx, params.get("Layers"))
        package = self._package(ctx, params["Code"])
        config = {
            "FunctionName": ref.name,
            "FunctionArn": ref.unqualified_arn,
            "Runtime": params["Runtime"],
            "Role": params["Role"],
            "Handler": params["Handler"],
            "CodeSize": package.size,
            "Description": params.get("Description") or "",
            "Timeout": params.get("Timeout") or configuration.DEFAULT_TIMEOUT,
            "MemorySize": params.get("MemorySize") or configuration.DEFAULT_MEMORY,
            "LastModified": timestamp(),
            "CodeSha256": package.sha256,
            "Version": LATEST,
            "TracingConfig": params.get("TracingConfig") or {"Mode": "PassThrough"},
            "RevisionId": new_revision(),
            "PackageType": "Zip",
            "Architectures": params.get("Architectures") or ["x86_64"],
            "EphemeralStorage": params.get("EphemeralStorage") or {"Size": 512},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "RuntimeVersionConfig": {"RuntimeVersionArn": configuration.runtime_version_arn(ref.region,
                                                                                            params["Runtime"])},
            "LoggingConfig": configuration.logging_config(params.get("LoggingConfig"), ref.name),
        }
        if environment:
            config["Environment"] = environment
        if layers:
            config["Layers"] = layers
        for key in ("DeadLetterConfig", "VpcConfig", "KMSKeyArn"):
            if params.get(key):
                config[key] = params[key]
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
        ref = self._ref(ctx, params)
        function, version = self._version(ref)
        out = {"Configuration": version.output(),
               "Code": {"RepositoryType": "S3", "Location": self._location(version.code_sha)}}
        if function.tags:
            out["Tags"] = dict(function.tags)
        if function.reserved_concurrency is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": function.reserved_concurrency}
        return out

    def _version(self, ref: FunctionRef) -> tuple[Function, Version]:
        """The version a Get* call names: an alias gives its FunctionVersion (no routing)."""
        function = self.catalog.require(ref)
        qualifier = ref.qualifier or LATEST
        if not is_version(qualifier):
            alias = function.aliases.get(qualifier)
            if alias is None:
                raise errors.function_not_found(ref.arn)
            qualifier = alias["FunctionVersion"]
        version = function.versions.get(qualifier)
        if version is None:
            raise errors.function_not_found(ref.arn)
        return function, version

    def get_function_configuration(self, ctx, params):
        return self._version(self._ref(ctx, params))[1].output()

    def list_functions(self, ctx, params):
        everything = params.get("FunctionVersion") == "ALL"
        configs = []
        for function in self.catalog.all(ctx.account_id, ctx.region):
            configs.append(function.latest.output())
            if everything:
                configs.extend(v.output() for v in function.published())
        # ListFunctions answers a subset of each configuration: no state fields.
        # https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html
        for config in configs:
            for key in _NOT_LISTED:
                config.pop(key, None)
        page, marker = _page(configs, params)
        return {"Functions": page, "NextMarker": marker}

    def update_function_code(self, ctx, params):
        ref = self._ref(ctx, params)
        if ref.qualifier:
            raise errors.invalid_parameter("Qualifiers are not allowed in the function name of UpdateFunctionCode.")
        function = self.catalog.require(ref)
        wait_ready(function)
        package = self._package(ctx, params)
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
        if params.get("Runtime"):
            configuration.check_runtime(params["Runtime"])
        configuration.check_limits(params.get("Timeout"), params.get("MemorySize"))
        environment = configuration.check_environment(params.get("Environment"))
        if params.get("Role"):
            self._check_role(params["Role"], ref.name, ctx)
        layers = layer_shas = None
        if "Layers" in params:
            layers, layer_shas = self._layer_list(ctx, params["Layers"])
        with self.catalog.lock:
            config = function.latest.config
            if params.get("RevisionId") and params["RevisionId"] != config["RevisionId"]:
                raise errors.precondition_failed()
            for key in _FUNCTION_FIELDS:
                if params.get(key) is not None:
                    config[key] = params[key]
            if "Environment" in params:
                if environment:
                    config["Environment"] = environment
                else:
                    config.pop("Environment", None)
            if layers is not None:
                function.latest.layer_shas = layer_shas
                if layers:
                    config["Layers"] = layers
                else:
                    config.pop("Layers", None)
            if params.get("LoggingConfig"):
                config["LoggingConfig"] = configuration.logging_config(params["LoggingConfig"], ref.name,
                                                                       config.get("LoggingConfig"))
            if params.get("Runtime"):
                config["RuntimeVersionConfig"] = {
                    "RuntimeVersionArn": configuration.runtime_version_arn(ref.region, params["Runtime"])}
            config.update(LastModified=timestamp(), RevisionId=new_revision())
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
            self.environments.retire(function, keep={k for k in self._current_keys(function)})
            return {}
        self.catalog.remove(function)
        self.environments.retire(function)
        self.queue.drop_function(function.account, function.region, function.name)
        self._collect_code()
        return {}

    def _current_keys(self, function: Function) -> list[tuple]:
        from lakestack.services.awslambda.environments import environment_key

        return [environment_key(function, v) for v in function.versions.values()]

    def _collect_code(self) -> None:
        """Remove packages no function version or layer uses any more."""
        used = self.layers.shas_in_use()
        with self.catalog.lock:
            for function in self.catalog.everywhere():
                for version in function.versions.values():
                    used.add(version.code_sha)
                    used.update(version.layer_shas)
        self.code.collect_unused(used)

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
        page, marker = _page(configs, params)
        return {"Versions": page, "NextMarker": marker}

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
        page, marker = _page(aliases, params)
        return {"Aliases": page, "NextMarker": marker}

    # -- layers ------------------------------------------------------------------------------

    def publish_layer_version(self, ctx, params):
        content = params["Content"]
        if content.get("ZipFile") is not None:
            package = self.code.save(content["ZipFile"])
        elif content.get("S3Bucket") and content.get("S3Key"):
            package = self.code.save(self._read_s3(ctx, content["S3Bucket"], content["S3Key"],
                                                   content.get("S3ObjectVersion")), limit=MAX_S3_ZIP)
        else:
            raise errors.invalid_parameter("Please provide a source for layer content.")
        return self.layers.publish(ctx.account_id, ctx.region, params["LayerName"], params, package.sha_hex,
                                   package.sha256, package.size, self._location(package.sha_hex))

    def _layer_name(self, ctx, text: str) -> tuple[str, str, str]:
        if text.startswith("arn:"):
            parts = text.split(":")
            return parts[3], parts[4], parts[6]
        return ctx.region, ctx.account_id, text

    def get_layer_version(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        return dict(self.layers.version(account, region, name, params["VersionNumber"])["info"])

    def get_layer_version_by_arn(self, ctx, params):
        from lakestack.services.awslambda.names import parse_layer_version_arn

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
        page, marker = _page(infos, params)
        return {"LayerVersions": page, "NextMarker": marker}

    def list_layers(self, ctx, params):
        out = []
        for layer in self.layers.all(ctx.account_id, ctx.region):
            latest = dict(layer.versions[max(layer.versions)]["info"])
            latest.pop("Content", None)
            latest.pop("LayerArn", None)
            out.append({"LayerName": layer.name, "LayerArn": layer.arn, "LatestMatchingVersion": latest})
        page, marker = _page(out, params)
        return {"Layers": page, "NextMarker": marker}

    def delete_layer_version(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        self.layers.delete_version(account, region, name, params["VersionNumber"])
        return {}

    def add_layer_version_permission(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        number = params["VersionNumber"]
        self.layers.version(account, region, name, number)
        layer = self.layers.get(account, region, name)
        if params.get("RevisionId") and params["RevisionId"] != (layer.policies.get(number) or {}).get("RevisionId"):
            raise errors.precondition_failed()
        statement = layer_statement(params, layer_arn(region, account, name, number))
        policy = policies.add(_without_revision(layer.policies.get(number)), statement)
        policy["RevisionId"] = new_revision()
        self.layers.set_policy(layer, number, policy)
        return {"Statement": json.dumps(statement), "RevisionId": policy["RevisionId"]}

    def get_layer_version_policy(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        self.layers.version(account, region, name, params["VersionNumber"])
        policy = self.layers.get(account, region, name).policies.get(params["VersionNumber"])
        if not policy:
            raise errors.not_found("No policy is associated with the given resource.")
        return {"Policy": json.dumps(_without_revision(policy)), "RevisionId": policy["RevisionId"]}

    def remove_layer_version_permission(self, ctx, params):
        region, account, name = self._layer_name(ctx, params["LayerName"])
        number = params["VersionNumber"]
        self.layers.version(account, region, name, number)
        layer = self.layers.get(account, region, name)
        current = layer.policies.get(number)
        if params.get("RevisionId") and params["RevisionId"] != (current or {}).get("RevisionId"):
            raise errors.precondition_failed()
        remaining = policies.remove(_without_revision(current), params["StatementId"])
        if remaining is not None:
            remaining["RevisionId"] = new_revision()
        self.layers.set_policy(layer, number, remaining)
        return {}

    # -- resource policies ---------------------------------------------------------------------

    def add_permission(self, ctx, params):
        ref = self._ref(ctx, params)
        function = self.catalog.require(ref)
        qualifier = ref.qualifier or ""
        self._check_qualifier(function, ref)
        with self.catalog.lock:
            if params.get("RevisionId") and params["RevisionId"] != function.policy_revisions.get(qualifier):
                raise errors.precondition_failed()
            statement = policies.statement(params, ref.arn)
            function.policies[qualifier] = policies.add(function.policies.get(qualifier), statement)
            function.policy_revisions[qualifier] = new_revision()
            self.catalog.save(function)
        return {"Statement": json.dumps(statement)}

    def remove_permission(self, ctx, params):
        ref = self._ref(ctx, params)
        function = self.catalog.require(ref)
        qualifier = ref.qualifier or ""
        self._check_qualifier(function, ref)
        with self.catalog.lock:
            if params.get("RevisionId") and params["RevisionId"] != function.policy_revisions.get(qualifier):
                raise errors.precondition_failed()
            remaining = policies.remove(function.policies.get(qualifier), params["StatementId"])
            if remaining is None:
                function.policies.pop(qualifier, None)
            else:
                function.policies[qualifier] = remaining
            function.policy_revisions[qualifier] = new_revision()
            self.catalog.save(function)
        return {}

    def get_policy(self, ctx, params):
        ref = self._ref(ctx, params)
        function = self.catalog.require(ref)
        self._check_qualifier(function, ref)
        policy = function.policies.get(ref.qualifier or "")
        if not policy:
            raise errors.not_found("The resource you requested does not exist.")
        return {"Policy": json.dumps(policy), "RevisionId": function.policy_revisions.get(ref.qualifier or "", "")}

    def _check_qualifier(self, function: Function, ref: FunctionRef) -> None:
        qualifier = ref.qualifier
        if qualifier and qualifier not in function.versions and qualifier not in function.aliases:
            raise errors.function_not_found(ref.arn)

    # -- concurrency, tags, account ------------------------------------------------------------

    def put_function_concurrency(self, ctx, params):
        function = self._function(ctx, params)
        wanted = params["ReservedConcurrentExecutions"]
        others = sum(f.reserved_concurrency or 0 for f in self.catalog.all(ctx.account_id, ctx.region)
                     if f is not function)
        if others + wanted > ACCOUNT_CONCURRENCY - MIN_UNRESERVED:
            raise errors.invalid_parameter(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
                f"below its minimum value of [{MIN_UNRESERVED}].")
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
        functions = self.catalog.all(ctx.account_id, ctx.region)
        reserved = sum(f.reserved_concurrency or 0 for f in functions)
        code = sum(v.config["CodeSize"] for f in functions for v in f.versions.values())
        return {
            "AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                             "CodeSizeZipped": 52428800, "ConcurrentExecutions": ACCOUNT_CONCURRENCY,
                             "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY - reserved},
            "AccountUsage": {"TotalCodeSize": code, "FunctionCount": len(functions)},
        }

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
        return self._event_invoke_config(ctx, params, replace=True)

    def update_function_event_invoke_config(self, ctx, params):
        return self._event_invoke_config(ctx, params, replace=False)

    def _event_invoke_config(self, ctx, params, replace: bool):
        ref = self._ref(ctx, params)
        function = self.catalog.require(ref)
        self._check_qualifier(function, ref)
        key = ref.qualifier or LATEST
        with self.catalog.lock:
            current = function.invoke_configs.get(key)
            if not replace and current is None:
                raise errors.not_found(f"The function {ref.arn} doesn't have an EventInvokeConfig")
            config = {} if replace or current is None else dict(current)
            for name in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
                if params.get(name) is not None:
                    config[name] = params[name]
            if params.get("DestinationConfig") is not None:
                self.destinations.check(ctx, params["DestinationConfig"])
                config["DestinationConfig"] = params["DestinationConfig"]
            config["LastModified"] = timestamp()
            config["FunctionArn"] = function_arn(ref.region, ref.account, ref.name, key)
            function.invoke_configs[key] = config
            self.catalog.save(function)
        return _invoke_config_output(config)

    def get_function_event_invoke_config(self, ctx, params):
        ref = self._ref(ctx, params)
        function = self.catalog.require(ref)
        config = function.invoke_configs.get(ref.qualifier or LATEST)
        if config is None:
            raise errors.not_found(f"The function {ref.arn} doesn't have an EventInvokeConfig")
        return _invoke_config_output(config)

    def delete_function_event_invoke_config(self, ctx, params):
        ref = self._ref(ctx, params)
        function = self.catalog.require(ref)
        with self.catalog.lock:
            if function.invoke_configs.pop(ref.qualifier or LATEST, None) is None:
                raise errors.not_found(f"The function {ref.arn} doesn't have an EventInvokeConfig")
            self.catalog.save(function)
        return {}

    def list_function_event_invoke_configs(self, ctx, params):
        function = self._function(ctx, params)
        configs = [_invoke_config_output(c) for _, c in sorted(function.invoke_configs.items())]
        page, marker = _page(configs, params)
        return {"FunctionEventInvokeConfigs": page, "NextMarker": marker}

    # -- invoking -----------------------------------------------------------------------------

    def invoke(self, ctx, params):
        ref = self._ref(ctx, params)
        function, version = self.catalog.resolve(ref)
        kind = params.get("InvocationType") or "RequestResponse"
        payload = params.get("Payload") or b""
        if kind == "DryRun":
            return {"StatusCode": 204}
        _check_json(payload)
        if kind == "Event":
            if len(payload) > MAX_ASYNC_PAYLOAD:
                raise errors.request_too_large(MAX_ASYNC_PAYLOAD)
            self.queue.enqueue(ref.account, ref.region, ref.name, ref.qualifier, ctx.request_id, payload)
            return {"StatusCode": 202}
        if len(payload) > MAX_SYNC_PAYLOAD:
            raise errors.request_too_large(MAX_SYNC_PAYLOAD)
        if version.number == LATEST:
            wait_ready(function)
        if not self._sync_slots.acquire(blocking=False):
            raise errors.too_many_requests("ConcurrentInvocationLimitExceeded")
        try:
            outcome = self.invoker.invoke(function, version, payload, ctx.request_id, ref.arn,
                                          _client_context(params.get("ClientContext")),
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
        _check_json(payload)
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
        from lakestack.services.awslambda.asynchronous import DEFAULT_MAX_AGE, DEFAULT_MAX_RETRIES

        function = self.catalog.get(event.account, event.region, event.function_name)
        config = (function.invoke_configs.get(event.qualifier or LATEST) or {}) if function else {}
        retries = config.get("MaximumRetryAttempts")
        age = config.get("MaximumEventAgeInSeconds")
        return (DEFAULT_MAX_RETRIES if retries is None else retries), (DEFAULT_MAX_AGE if age is None else age)

    # -- for other services -----------------------------------------------------------------------

    def may_invoke_as_service(self, function_arn_text: str, service: str, source_arn: str | None,
                              source_account: str | None) -> bool:
        """May `service` (e.g. "s3.amazonaws.com") invoke this function on behalf of
        `source_arn`? Decided by the function's resource policy (AddPermission), for the
        version or alias named in the ARN. False if there is no such function."""
        try:
            ref = parse(function_arn_text, source_account or "", _arn_region(function_arn_text))
            function = self.catalog.require(ref)
            self.catalog.resolve(ref)
        except AwsError:
            return False
        return policies.allows_service(function.policies.get(ref.qualifier or ""), service, "lambda:InvokeFunction",
                                       ref.arn, source_arn, source_account)

    def invoke_as_service(self, function_arn_text: str, service: str, source_arn: str | None,
                          source_account: str | None, payload: bytes, request_id: str) -> bool:
        """An asynchronous invocation by another service (S3 event notifications). The
        event is queued durably if the function's policy allows the service; returns
        whether it was."""
        if not self.may_invoke_as_service(function_arn_text, service, source_arn, source_account):
            log.warning("%s may not invoke %s for %s; event dropped", service, function_arn_text, source_arn)
            return False
        ref = parse(function_arn_text, source_account or "", _arn_region(function_arn_text))
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
        page, marker = _page(found, params)
        return {"EventSourceMappings": page, "NextMarker": marker}


def _page(items: list, params: dict) -> tuple[list, str | None]:
    start = int(params["Marker"]) if (params.get("Marker") or "").isdigit() else 0
    size = params.get("MaxItems") or 50
    page = items[start:start + size]
    return page, str(start + size) if start + size < len(items) else None


def _check_json(payload: bytes) -> None:
    if not payload:
        return
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.invalid_content(f"Could not parse request body into json: Could not parse payload into json: "
                                     f"{exc}") from None


def _client_context(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        data = json.loads(base64.b64decode(text))
    except (ValueError, TypeError):
        raise errors.invalid_parameter("Client context must be a valid Base64-encoded JSON object.") from None
    return data if isinstance(data, dict) else None


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and arn.startswith("arn:") else ""


def _without_revision(policy: dict | None) -> dict | None:
    if policy is None:
        return None
    return {k: v for k, v in policy.items() if k != "RevisionId"}


def _invoke_config_output(config: dict) -> dict:
    from lakestack.aws.protocols.values import to_datetime

    out = dict(config)
    out["LastModified"] = to_datetime(_iso(config["LastModified"]))
    return out


def _iso(text: str) -> str:
    # LastModified is stored in Lambda's "+0000" form; the output shape wants a timestamp.
    return text.replace("+0000", "Z")
