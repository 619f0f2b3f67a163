"""Kinesis's errors, with the codes and message wording Kinesis answers.

https://docs.aws.amazon.com/kinesis/latest/APIReference/CommonErrors.html and each
operation's Errors section; the wording follows what the service returns.
"""

from __future__ import annotations

import datetime as dt

from lakestack.aws.errors import AwsError


def invalid_argument(message: str) -> AwsError:
    return AwsError("InvalidArgumentException", message)


def limit_exceeded(message: str) -> AwsError:
    return AwsError("LimitExceededException", message)


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def stream_not_found(name: str, account: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Stream {name} under account {account} not found.")


def stream_exists(name: str, account: str) -> AwsError:
    return AwsError("ResourceInUseException", f"Stream {name} under account {account} already exists.")


def stream_not_active(name: str, account: str, status: str) -> AwsError:
    return AwsError("ResourceInUseException",
                    f"Stream {name} under account {account} not ACTIVE, instead in state {status}")


def shard_not_found(shard_id: str, stream: str, account: str) -> AwsError:
    return AwsError("ResourceNotFoundException",
                    f"Shard {shard_id} in stream {stream} under account {account} does not exist")


def shard_not_found_for_reshard(shard_id: str, stream: str, account: str) -> AwsError:
    return AwsError("ResourceNotFoundException",
                    f"Could not find shard {shard_id} in stream {stream} under account {account}.")


def consumer_not_found(what: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Consumer {what} not found.")


def rate_exceeded(shard_id: str, stream: str, account: str) -> AwsError:
    return AwsError("ProvisionedThroughputExceededException",
                    f"Rate exceeded for shard {shard_id} in stream {stream} under account {account}.")


def invalid_iterator() -> AwsError:
    return invalid_argument("Invalid ShardIterator.")


def _amz_time(ms: int) -> str:
    # As Java's Date.toString prints it in UTC: "Thu Jan 22 01:22:02 UTC 2015".
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def expired_iterator(issued_ms: int, now_ms: int, tolerated_ms: int) -> AwsError:
    return AwsError(
        "ExpiredIteratorException",
        f"Iterator expired. The iterator was created at time {_amz_time(issued_ms)} while right now it is "
        f"{_amz_time(now_ms)} which is further in the future than the tolerated delay of {tolerated_ms} "
        "milliseconds.",
    )


def engine_failure(detail: str) -> AwsError:
    return AwsError("InternalFailureException", detail, status=500, sender_fault=False)
