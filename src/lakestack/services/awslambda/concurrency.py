"""Reserved concurrency (Put/Get/DeleteFunctionConcurrency) and the account's limits and
usage (GetAccountSettings).
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
"""

from __future__ import annotations

from lakestack.services.awslambda import errors
from lakestack.services.awslambda.environments import ACCOUNT_CONCURRENCY
from lakestack.services.awslambda.functions import Function

# Reservations must leave at least this much of the account's concurrency unreserved.
MIN_UNRESERVED = 100


def check_reservation(function: Function, wanted: int, functions: list[Function]) -> None:
    """May `function` reserve `wanted`, given what the account's other `functions` reserve?"""
    others = sum(f.reserved_concurrency or 0 for f in functions if f is not function)
    if others + wanted > ACCOUNT_CONCURRENCY - MIN_UNRESERVED:
        raise errors.invalid_parameter(
            "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
            f"below its minimum value of [{MIN_UNRESERVED}].")


def account_settings(functions: list[Function]) -> dict:
    """GetAccountSettings' answer for the account's (region's) functions."""
    reserved = sum(f.reserved_concurrency or 0 for f in functions)
    code = sum(v.config["CodeSize"] for f in functions for v in f.versions.values())
    return {
        "AccountLimit": {"TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
                         "CodeSizeZipped": 52428800, "ConcurrentExecutions": ACCOUNT_CONCURRENCY,
                         "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY - reserved},
        "AccountUsage": {"TotalCodeSize": code, "FunctionCount": len(functions)},
    }
