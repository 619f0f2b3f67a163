"""The Condition element: operators, `…IfExists`, and the `ForAnyValue:`/`ForAllValues:` set
qualifiers.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html

Rules that are easy to get wrong, as AWS applies them:
- several keys under one operator, and several operators, must all hold (AND); several
  values for one key are alternatives (OR);
- a negated operator (StringNotEquals, NotIpAddress, ArnNotLike, …) holds when none of the
  policy values match, and also when the key is missing from the request;
- a positive operator fails on a missing key unless it carries `IfExists`;
- `ForAllValues:` holds when every request value matches (so also for a missing or empty
  key); `ForAnyValue:` needs at least one matching request value.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lakestack.services.iam.matching import Template, context_text, template

UTC = dt.UTC


def _string_equals(request: Any, policy: str) -> bool:
    return context_text(request) == policy


def _string_equals_ignore_case(request: Any, policy: str) -> bool:
    return context_text(request).casefold() == policy.casefold()


def _like(request: Any, policy: re.Pattern) -> bool:
    return policy.fullmatch(context_text(request)) is not None


def _arn_like(request: Any, policy: re.Pattern) -> bool:
    # ArnEquals and ArnLike behave alike: segment-wise, case-sensitive, with wildcards.
    text = context_text(request)
    return text.count(":") >= 5 and policy.fullmatch(text) is not None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_date(value: Any) -> dt.datetime | None:
    """An ISO 8601 date/time or epoch seconds, as condition values and keys may be written."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text), UTC)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _compare(convert: Callable[[Any], Any], test: Callable[[Any, Any], bool]):
    def compare(request: Any, policy: Any) -> bool:
        left, right = convert(request), convert(policy)
        if left is None or right is None:
            return False
        return test(left, right)

    return compare


def _bool(request: Any, policy: Any) -> bool:
    return context_text(request).lower() == context_text(policy).lower()


def _binary(request: Any, policy: Any) -> bool:
    if isinstance(request, bytes | bytearray):
        request = base64.b64encode(bytes(request)).decode()
    return str(request) == str(policy)


def _ip(request: Any, policy: Any) -> bool:
    try:
        address = ipaddress.ip_address(str(request).strip())
        network = ipaddress.ip_network(str(policy).strip(), strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


@dataclass(frozen=True)
class Operator:
    """One condition operator: how a request value is tested against one policy value."""

    test: Callable[[Any, Any], bool]
    negated: bool = False
    # True when policy values are strings that may contain ${variables}.
    variables: bool = False
    # "string" or "arn" when policy values are wildcard patterns (compiled before testing).
    pattern: str = ""


_eq = _compare(_number, lambda a, b: a == b)
_lt = _compare(_number, lambda a, b: a < b)
_le = _compare(_number, lambda a, b: a <= b)
_gt = _compare(_number, lambda a, b: a > b)
_ge = _compare(_number, lambda a, b: a >= b)
_deq = _compare(parse_date, lambda a, b: a == b)
_dlt = _compare(parse_date, lambda a, b: a < b)
_dle = _compare(parse_date, lambda a, b: a <= b)
_dgt = _compare(parse_date, lambda a, b: a > b)
_dge = _compare(parse_date, lambda a, b: a >= b)

OPERATORS: dict[str, Operator] = {
    "StringEquals": Operator(_string_equals, variables=True),
    "StringNotEquals": Operator(_string_equals, negated=True, variables=True),
    "StringEqualsIgnoreCase": Operator(_string_equals_ignore_case, variables=True),
    "StringNotEqualsIgnoreCase": Operator(_string_equals_ignore_case, negated=True, variables=True),
    "StringLike": Operator(_like, variables=True, pattern="string"),
    "StringNotLike": Operator(_like, negated=True, variables=True, pattern="string"),
    "NumericEquals": Operator(_eq),
    "NumericNotEquals": Operator(_eq, negated=True),
    "NumericLessThan": Operator(_lt),
    "NumericLessThanEquals": Operator(_le),
    "NumericGreaterThan": Operator(_gt),
    "NumericGreaterThanEquals": Operator(_ge),
    "DateEquals": Operator(_deq),
    "DateNotEquals": Operator(_deq, negated=True),
    "DateLessThan": Operator(_dlt),
    "DateLessThanEquals": Operator(_dle),
    "DateGreaterThan": Operator(_dgt),
    "DateGreaterThanEquals": Operator(_dge),
    "Bool": Operator(_bool, variables=True),
    "BinaryEquals": Operator(_binary),
    "IpAddress": Operator(_ip),
    "NotIpAddress": Operator(_ip, negated=True),
    "ArnEquals": Operator(_arn_like, variables=True, pattern="arn"),
    "ArnLike": Operator(_arn_like, variables=True, pattern="arn"),
    "ArnNotEquals": Operator(_arn_like, negated=True, variables=True, pattern="arn"),
    "ArnNotLike": Operator(_arn_like, negated=True, variables=True, pattern="arn"),
}

QUALIFIERS = ("ForAnyValue", "ForAllValues")


def split_operator(name: str) -> tuple[str, str, bool]:
    """"ForAnyValue:StringLikeIfExists" → ("ForAnyValue", "StringLike", True)."""
    qualifier, colon, base = name.partition(":")
    if not colon:
        qualifier, base = "", name
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    return qualifier, base, if_exists


def is_known_operator(name: str) -> bool:
    qualifier, base, if_exists = split_operator(name)
    if qualifier and qualifier not in QUALIFIERS:
        return False
    if base == "Null":
        return not qualifier and not if_exists
    return base in OPERATORS


@dataclass(frozen=True)
class Condition:
    """One `operator: {key: values}` test, compiled."""

    operator: str  # as written, for messages
    qualifier: str  # "", "ForAnyValue" or "ForAllValues"
    base: str
    if_exists: bool
    key: str  # lower-cased: condition keys are case-insensitive
    values: tuple[Template, ...]

    def holds(self, context: Mapping[str, Any]) -> bool:
        present = self.key in context and context[self.key] is not None
        if self.base == "Null":
            # "true" asks for the key to be absent, "false" for it to be present.
            wanted_absent = [v.source.lower() == "true" for v in self.values]
            return any(absent == (not present) for absent in wanted_absent)
        op = OPERATORS[self.base]
        if not present:
            if self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return self.if_exists or op.negated
        raw = context[self.key]
        request_values = list(raw) if isinstance(raw, list | tuple | set | frozenset) else [raw]
        policy_values = self._policy_values(op, context)

        def value_matches(request_value: Any) -> bool:
            hit = any(op.test(request_value, p) for p in policy_values)
            return not hit if op.negated else hit

        if self.qualifier == "ForAllValues":
            return all(value_matches(v) for v in request_values)
        if self.qualifier == "ForAnyValue":
            return any(value_matches(v) for v in request_values)
        if op.negated:
            return all(value_matches(v) for v in request_values)
        return any(value_matches(v) for v in request_values)

    def _policy_values(self, op: Operator, context: Mapping[str, Any]) -> list:
        if not op.variables:
            return [v.source for v in self.values]
        out = []
        for value in self.values:
            # A variable without a value in the request matches nothing.
            if op.pattern:
                matcher = value.matcher(context, arn=op.pattern == "arn")
                if matcher is not None:
                    out.append(matcher)
            else:
                text = value.text(context)
                if text is not None:
                    out.append(text)
        return out


def compile_condition(operator: str, key: str, values: Any, variables: bool) -> Condition:
    qualifier, base, if_exists = split_operator(operator)
    if not isinstance(values, list):
        values = [values]
    # Like-operators read `*`/`?` as wildcards; the others compare the text as written.
    templates = tuple(template(context_text(v), variables) for v in values)
    return Condition(operator, qualifier, base, if_exists, key.lower(), templates)
