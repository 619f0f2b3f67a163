"""Wildcards and policy variables, as the IAM policy language uses them.

`*` matches any run of characters and `?` one character. In an ARN, each of the first
five colon-separated segments is matched on its own (a wildcard there never spans a
colon); the resource segment may contain colons and slashes, and `*` spans them.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html

Policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'none'}`, and the escapes
`${*}`, `${?}`, `${$}`) are replaced by request context values before matching; a value
inserted this way is always literal, never a wildcard. A variable with no value and no
default makes the element match nothing.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}

# A template is a tuple of parts: ("glob", text) may hold wildcards, ("text", text) is
# literal, ("var", key, default) is a context lookup (key lower-cased, default or None).
Part = tuple


@dataclass(frozen=True)
class Template:
    """A policy string that may contain variables, compiled once when the policy is parsed."""

    source: str
    parts: tuple[Part, ...]

    @cached_property
    def has_variables(self) -> bool:
        return any(p[0] == "var" for p in self.parts)

    @cached_property
    def static(self) -> bool:
        """No variables: the same pattern for every request."""
        return not self.has_variables

    @cached_property
    def arn_matcher(self) -> re.Pattern:
        """The ARN pattern of a template without variables, compiled once."""
        return compile_parts(self.parts, True)

    def resolve(self, context: Mapping[str, Any]) -> tuple[Part, ...] | None:
        """The parts with variables replaced by literal text, or None if one has no value."""
        if not self.has_variables:
            return self.parts
        out = []
        for part in self.parts:
            if part[0] != "var":
                out.append(part)
                continue
            value = context.get(part[1])
            if isinstance(value, list | tuple | set | frozenset):
                # A multivalued key cannot stand in for one string.
                value = None
            if value is None:
                if part[2] is None:
                    return None
                value = part[2]
            out.append(("text", context_text(value)))
        return tuple(out)

    def text(self, context: Mapping[str, Any]) -> str | None:
        """The string with variables replaced (wildcards left as plain characters)."""
        parts = self.resolve(context)
        if parts is None:
            return None
        return "".join(p[1] for p in parts)

    def matcher(self, context: Mapping[str, Any], arn: bool) -> re.Pattern | None:
        parts = self.resolve(context)
        if parts is None:
            return None
        return compile_parts(parts, arn)


def template(text: str, variables: bool = True) -> Template:
    """Compile `text`; with variables=False (policy Version 2008-10-17) `${…}` is literal."""
    if not variables or "${" not in text:
        return Template(text, (("glob", text),))
    parts: list[Part] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        if m.start() > pos:
            parts.append(("glob", text[pos:m.start()]))
        inner = m.group(1).strip()
        if inner in _ESCAPES:
            parts.append(("text", _ESCAPES[inner]))
        else:
            key, default = _split_default(inner)
            parts.append(("var", key.lower(), default))
        pos = m.end()
    if pos < len(text):
        parts.append(("glob", text[pos:]))
    return Template(text, tuple(parts))


def _split_default(inner: str) -> tuple[str, str | None]:
    # `${aws:username, 'nobody'}`: the default is a single-quoted literal after a comma.
    key, comma, rest = inner.partition(",")
    if not comma:
        return inner, None
    rest = rest.strip()
    if len(rest) >= 2 and rest[0] == rest[-1] == "'":
        return key.strip(), rest[1:-1]
    return key.strip(), rest


def context_text(value: Any) -> str:
    """How a context value reads as a string (booleans as AWS writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def is_arn_pattern(parts: tuple[Part, ...]) -> bool:
    return "".join(p[1] for p in parts if p[0] != "var").count(":") >= 5


@lru_cache(maxsize=8192)
def compile_parts(parts: tuple[Part, ...], arn: bool) -> re.Pattern:
    """A regex for the parts; with arn=True wildcards stay inside their ARN segment."""
    arn = arn and is_arn_pattern(parts)
    out = []
    colons = 0
    for kind, text, *_ in parts:
        for ch in text:
            in_segment = arn and colons < 5
            if ch == ":":
                colons += 1
            if kind == "glob" and ch == "*":
                out.append("[^:]*" if in_segment else ".*")
            elif kind == "glob" and ch == "?":
                out.append("[^:]" if in_segment else ".")
            else:
                out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


@lru_cache(maxsize=8192)
def glob(pattern: str, arn: bool = False, ignore_case: bool = False) -> re.Pattern:
    """A compiled wildcard pattern without variables."""
    regex = compile_parts((("glob", pattern),), arn)
    return re.compile(regex.pattern, re.DOTALL | re.IGNORECASE) if ignore_case else regex


def wildcard_match(pattern: str, value: str, arn: bool = False, ignore_case: bool = False) -> bool:
    return glob(pattern, arn, ignore_case).fullmatch(value) is not None
