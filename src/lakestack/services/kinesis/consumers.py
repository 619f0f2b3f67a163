"""Enhanced fan-out consumers: registered per stream, named by an ARN that embeds the
stream, the consumer name and its creation time.

    arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<name>:<creation epoch seconds>
"""

from __future__ import annotations

import datetime as dt
import re

from lakestack.services.kinesis import errors
from lakestack.services.kinesis.streams import Consumer, Stream

MAX_CONSUMERS = 20
_ARN = re.compile(r"^arn:aws[a-z-]*:kinesis:([^:]+):(\d{12}):stream/([a-zA-Z0-9_.-]+)/consumer/([a-zA-Z0-9_.-]+):(\d+)$")


def parse_arn(arn: str) -> tuple[str, str, str, str, int] | None:
    """(region, account, stream name, consumer name, creation seconds)."""
    match = _ARN.match(arn)
    if match is None:
        return None
    region, account, stream, name, created = match.groups()
    return region, account, stream, name, int(created)


def consumer_arn(stream: Stream, name: str, created: float) -> str:
    return f"{stream.arn}/consumer/{name}:{int(created)}"


def describe(stream: Stream, consumer: Consumer, with_stream: bool = True) -> dict:
    out = {
        "ConsumerName": consumer.name,
        "ConsumerARN": consumer.arn,
        "ConsumerStatus": consumer.status,
        "ConsumerCreationTimestamp": dt.datetime.fromtimestamp(consumer.created, dt.UTC),
    }
    if with_stream:
        out["StreamARN"] = stream.arn
    return out


def register(stream: Stream, name: str, tags: dict | None, now: float, settle_seconds: float) -> Consumer:
    if name in stream.consumers:
        raise errors.AwsError("ResourceInUseException",
                              f"Consumer {consumer_arn(stream, name, stream.consumers[name].created)} already exists")
    if len(stream.consumers) >= MAX_CONSUMERS:
        raise errors.limit_exceeded(
            f"Stream {stream.name} under account {stream.account} already has {MAX_CONSUMERS} registered "
            "consumers, the maximum allowed.")
    consumer = Consumer(name, consumer_arn(stream, name, now), now, "CREATING", now + settle_seconds, dict(tags or {}))
    stream.consumers[name] = consumer
    return consumer


def find(stream: Stream, name: str | None, arn: str | None) -> Consumer:
    for consumer in stream.consumers.values():
        if (arn and consumer.arn == arn) or (not arn and consumer.name == name):
            return consumer
    raise errors.consumer_not_found(arn or f"{name} under stream {stream.name} under account {stream.account}")
