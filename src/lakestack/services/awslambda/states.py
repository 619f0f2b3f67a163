"""Function states: a new function is `Pending` until its code is ready to run, then
`Active`; an update is `LastUpdateStatus: InProgress` until then, then `Successful`.
https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html

Getting ready is real work here: unpacking the deployment package and the layers. It runs
in the background, as on AWS; `Function.prepared` is set when it is done. Invocations and
publishing that arrive meanwhile wait for it (AWS answers ResourceConflictException
instead; lakestack's preparation takes milliseconds, so waiting is kinder and still
correct for clients that poll with the SDK's waiters).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from lakestack.services.awslambda import errors
from lakestack.services.awslambda.code import CodeStore
from lakestack.services.awslambda.functions import Catalog, Function, new_revision

log = logging.getLogger("lakestack.lambda")

WAIT_SECONDS = 60.0

PENDING = {"State": "Pending", "StateReason": "The function is being created.", "StateReasonCode": "Creating"}
IN_PROGRESS = {"LastUpdateStatus": "InProgress", "LastUpdateStatusReason": "The function is being created.",
               "LastUpdateStatusReasonCode": "Creating"}


def mark_pending(config: dict) -> None:
    config.update(PENDING)
    config.pop("LastUpdateStatus", None)
    config.pop("LastUpdateStatusReason", None)
    config.pop("LastUpdateStatusReasonCode", None)


def mark_updating(config: dict) -> None:
    config.update(IN_PROGRESS)


class Preparer:
    def __init__(self, catalog: Catalog, code: CodeStore):
        self.catalog = catalog
        self.code = code
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lambda-prepare")

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def schedule(self, function: Function) -> None:
        function.prepared.clear()
        revision = function.latest.revision
        self._pool.submit(self._prepare, function, revision)

    def resume(self) -> None:
        """After a restart: finish what was being prepared."""
        for function in self.catalog.everywhere():
            if not function.latest.ready:
                self.schedule(function)

    def _prepare(self, function: Function, revision: str) -> None:
        version = function.latest
        failure = None
        try:
            self.code.unpacked(version.code_sha)
            self.code.layers_root(version.layer_shas)
        except Exception as exc:  # a package that unzipped once but cannot be extracted
            log.exception("preparing %s", function.name)
            failure = str(exc)
        with self.catalog.lock:
            config = function.latest.config
            if config["RevisionId"] != revision or self.catalog.get(function.account, function.region,
                                                                    function.name) is not function:
                return  # changed or deleted meanwhile; the newer change prepares itself
            creating = config.get("State") == "Pending"
            if failure is None:
                if creating:
                    config.update(State="Active")
                    for key in ("StateReason", "StateReasonCode"):
                        config.pop(key, None)
                config["LastUpdateStatus"] = "Successful"
                for key in ("LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
                    config.pop(key, None)
            elif creating:
                config.update(State="Failed", StateReason=f"Could not prepare the code: {failure}",
                              StateReasonCode="InvalidZipFileException")
            else:
                config.update(LastUpdateStatus="Failed", LastUpdateStatusReason=f"Could not prepare the code: "
                              f"{failure}", LastUpdateStatusReasonCode="InvalidZipFileException")
            config["RevisionId"] = new_revision()
            self.catalog.save(function)
        function.prepared.set()


def wait_ready(function: Function, timeout: float = WAIT_SECONDS) -> None:
    """Wait for $LATEST to finish getting ready; ResourceConflictException if it failed or
    takes too long."""
    if not function.prepared.wait(timeout):
        raise errors.conflict(f"The operation cannot be performed at this time. An update is in progress for "
                              f"resource: {function.arn}")
    config = function.latest.config
    if config.get("State") == "Failed" or config.get("LastUpdateStatus") == "Failed":
        raise errors.conflict(f"The operation cannot be performed at this time. The function is currently in the "
                              f"following state: {config.get('State')}")

