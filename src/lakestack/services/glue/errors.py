"""Glue's error answers. Every Glue error is an HTTP 400 with a `Message`."""

from __future__ import annotations

from lakestack.aws.errors import AwsError


def not_found(message: str) -> AwsError:
    return AwsError("EntityNotFoundException", message)


def already_exists(message: str) -> AwsError:
    return AwsError("AlreadyExistsException", message)


def invalid_input(message: str) -> AwsError:
    return AwsError("InvalidInputException", message)


def concurrent_modification(message: str) -> AwsError:
    return AwsError("ConcurrentModificationException", message)


def limit_exceeded(message: str) -> AwsError:
    return AwsError("ResourceNumberLimitExceededException", message)


def database_not_found(name: str) -> AwsError:
    return not_found(f"Database {name} not found.")


def table_not_found(database: str, name: str) -> AwsError:
    return not_found(f"Table {name} not found.")
