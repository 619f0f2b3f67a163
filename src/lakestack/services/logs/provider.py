"""CloudWatch Logs' operations: thin glue from typed params to groups, streams and events.

State lives in `<home>/logs/logs.db` (store.py). Lambda writes functions' logs here through
these same operations, as the function's role.
"""

from __future__ import annotations

from lakestack.services.base import Provider
from lakestack.services.logs import errors
from lakestack.services.logs.log_events import LogEvents
from lakestack.services.logs.log_groups import LogGroups, group_name_from
from lakestack.services.logs.retention import RetentionSweeper
from lakestack.services.logs.store import open_store

# Operations on a whole log group, on one of its streams, and on no group in particular.
_GROUP_OPS = {"CreateLogGroup", "DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy", "DescribeLogStreams",
              "FilterLogEvents", "TagLogGroup", "UntagLogGroup", "ListTagsLogGroup", "PutLogGroupDeletionProtection"}
_STREAM_OPS = {"CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents"}


class LogsProvider(Provider):
    service = "logs"

    def __init__(self, stack):
        super().__init__(stack)
        self.db = open_store(stack.settings.home)
        self.groups = LogGroups(self.db)
        self.events = LogEvents(self.db)
        self.retention = RetentionSweeper(self.groups, self.events)

    def start(self) -> None:
        self.retention.start()

    def stop(self) -> None:
        self.retention.stop()
        self.db.close()

    # -- IAM ------------------------------------------------------------------------------

    def authorization(self, ctx, params):
        """Resources as in https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html"""
        base = f"arn:aws:logs:{ctx.region}:{ctx.account_id}"
        op = ctx.operation
        resource = "*"
        try:
            if op in _STREAM_OPS:
                resource = f"{base}:log-group:{group_name_from(params)}:log-stream:{params.get('logStreamName', '')}"
            elif op in _GROUP_OPS:
                resource = f"{base}:log-group:{group_name_from(params)}"
            elif op == "DescribeLogGroups":
                resource = f"{base}:log-group:*"
            elif params.get("resourceArn"):
                resource = params["resourceArn"]
        except Exception:  # a malformed request is the operation's to reject
            resource = "*"
        return [(f"logs:{op}", resource)]

    def _group(self, ctx, params):
        return self.groups.require(ctx.account_id, ctx.region, group_name_from(params))

    # -- groups -----------------------------------------------------------------------------

    def create_log_group(self, ctx, params):
        self.groups.create(ctx.account_id, ctx.region, params)
        return {}

    def delete_log_group(self, ctx, params):
        self.groups.delete(ctx.account_id, ctx.region, params["logGroupName"])
        return {}

    def describe_log_groups(self, ctx, params):
        groups, token = self.groups.describe(ctx.account_id, ctx.region, params)
        return {"logGroups": [g.describe() for g in groups], "nextToken": token}

    def put_retention_policy(self, ctx, params):
        self.groups.set_retention(self._group(ctx, params), params["retentionInDays"])
        self.retention.wake()
        return {}

    def delete_retention_policy(self, ctx, params):
        self.groups.set_retention(self._group(ctx, params), None)
        return {}

    def put_log_group_deletion_protection(self, ctx, params):
        group = self.groups.require(ctx.account_id, ctx.region, group_name_from(
            {"logGroupIdentifier": params["logGroupIdentifier"]}))
        self.groups.set_deletion_protection(group, params["deletionProtectionEnabled"])
        return {}

    # -- tags -------------------------------------------------------------------------------

    def tag_log_group(self, ctx, params):
        group = self._group(ctx, params)
        self.groups.set_tags(group, {**group.tags, **params["tags"]})
        return {}

    def untag_log_group(self, ctx, params):
        group = self._group(ctx, params)
        self.groups.set_tags(group, {k: v for k, v in group.tags.items() if k not in set(params["tags"])})
        return {}

    def list_tags_log_group(self, ctx, params):
        return {"tags": self._group(ctx, params).tags}

    def tag_resource(self, ctx, params):
        group = self.groups.by_arn(ctx.account_id, params["resourceArn"])
        self.groups.set_tags(group, {**group.tags, **params["tags"]})
        return {}

    def untag_resource(self, ctx, params):
        group = self.groups.by_arn(ctx.account_id, params["resourceArn"])
        self.groups.set_tags(group, {k: v for k, v in group.tags.items() if k not in set(params["tagKeys"])})
        return {}

    def list_tags_for_resource(self, ctx, params):
        return {"tags": self.groups.by_arn(ctx.account_id, params["resourceArn"]).tags}

    # -- streams ----------------------------------------------------------------------------

    def create_log_stream(self, ctx, params):
        self.groups.create_stream(self._group(ctx, params), params["logStreamName"])
        return {}

    def delete_log_stream(self, ctx, params):
        self.groups.delete_stream(self._group(ctx, params), params["logStreamName"])
        return {}

    def describe_log_streams(self, ctx, params):
        group = self._group(ctx, params)
        streams, token = self.groups.describe_streams(group, params)
        return {"logStreams": [s.describe(group) for s in streams], "nextToken": token}

    # -- events -----------------------------------------------------------------------------

    def put_log_events(self, ctx, params):
        group = self._group(ctx, params)
        stream = self.groups.require_stream(group, params["logStreamName"])
        if not params["logEvents"]:
            raise errors.invalid("At least one log event must be provided.")
        return self.events.put(group, stream, params["logEvents"])

    def get_log_events(self, ctx, params):
        group = self._group(ctx, params)
        stream = self.groups.require_stream(group, params["logStreamName"])
        return self.events.get(group, stream, params)

    def filter_log_events(self, ctx, params):
        group = self._group(ctx, params)
        return self.events.filter(group, self.groups.streams_of(group), params)
