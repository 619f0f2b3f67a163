"""CloudWatch Logs filter patterns: compile once, then test messages.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html

- Terms: `ERROR` (the message contains it, case-sensitively), several terms must all be
  there; `"quoted phrase"`; `?ERROR ?WARN` (at least one of the ?-terms); `-DEBUG`
  (must not be there); `%regex%`. An empty pattern matches everything.
- JSON: `{ $.level = "ERROR" }`, `{ $.latency > 100 }`, `{ ($.a = 1) && ($.b != "x*") }`,
  `||`, the `*` wildcard in string values, `%regex%` values, `IS NULL`, `NOT EXISTS`,
  `IS TRUE`/`IS FALSE`, selectors `$.a.b`, `$.list[0]`. Only events that are JSON
  objects can match.
- Space-delimited: `[ip, user, ..., status = 4*, size > 1000]`, where `...` stands for any
  number of fields and `&&`/`||` combine conditions on one field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from lakestack.aws.errors import AwsError

Matcher = Callable[[str], bool]


class PatternError(ValueError):
    pass


def invalid(pattern: str) -> AwsError:
    return AwsError("InvalidParameterException", f"Invalid filter pattern: {pattern}")


def compile_pattern(pattern: str | None) -> Matcher:
    """A function message → bool; InvalidParameterException for a pattern AWS would refuse."""
    text = (pattern or "").strip()
    try:
        if not text or text == '""':
            return lambda message: True
        if text.startswith("{"):
            if not text.endswith("}"):
                raise PatternError("unbalanced braces")
            return _json_matcher(_JsonParser(text[1:-1]).parse())
        if text.startswith("["):
            if not text.endswith("]"):
                raise PatternError("unbalanced brackets")
            return _space_matcher(_parse_fields(text[1:-1]))
        return _term_matcher(text)
    except (PatternError, re.error):
        raise invalid(pattern or "") from None


# -- terms ----------------------------------------------------------------------------------

_TERM = re.compile(r'\s*([?-]?)(?:"((?:[^"\\]|\\.)*)"|%([^%]+)%|([^\s"]+))')


def _term_matcher(text: str) -> Matcher:
    required: list[Matcher] = []
    optional: list[Matcher] = []
    excluded: list[Matcher] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        found = _TERM.match(text, pos)
        if found is None:
            raise PatternError(f"cannot read term at {pos}")
        prefix, quoted, regex, bare = found.groups()
        pos = found.end()
        if regex is not None:
            compiled = re.compile(regex)
            test: Matcher = lambda m, rx=compiled: rx.search(m) is not None  # noqa: E731
        else:
            needle = bytes(quoted, "utf-8").decode("unicode_escape") if quoted is not None else bare
            if quoted is None and needle in ("&&", "||"):
                raise PatternError("operators need a JSON or space-delimited pattern")
            test = lambda m, n=needle: n in m  # noqa: E731
        {"": required, "?": optional, "-": excluded}[prefix].append(test)

    def match(message: str) -> bool:
        return (all(t(message) for t in required) and (not optional or any(t(message) for t in optional))
                and not any(t(message) for t in excluded))

    return match


# -- values shared by JSON and space-delimited patterns -------------------------------------


@dataclass(frozen=True)
class Comparison:
    operator: str  # = != < > <= >=
    value: object  # str, float, or re.Pattern (for %regex%)

    def test(self, actual) -> bool:
        op, expected = self.operator, self.value
        if isinstance(expected, float):
            number = _number(actual)
            if number is None:
                return op == "!=" and actual is not None
            return {"=": number == expected, "!=": number != expected, "<": number < expected,
                    ">": number > expected, "<=": number <= expected, ">=": number >= expected}[op]
        if actual is None or isinstance(actual, dict | list):
            return False
        text = _text(actual)
        if isinstance(expected, re.Pattern):
            hit = expected.search(text) is not None
        else:
            hit = _wildcard(expected).fullmatch(text) is not None
        if op == "=":
            return hit
        if op == "!=":
            return not hit
        raise PatternError("strings can only be compared with = or !=")


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_WILDCARDS: dict[str, re.Pattern] = {}


def _wildcard(value: str) -> re.Pattern:
    compiled = _WILDCARDS.get(value)
    if compiled is None:
        compiled = re.compile(".*".join(re.escape(part) for part in value.split("*")), re.DOTALL)
        if len(_WILDCARDS) < 1024:
            _WILDCARDS[value] = compiled
    return compiled


_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def _value(token: str, quoted: bool):
    if quoted:
        return token
    if len(token) >= 2 and token.startswith("%") and token.endswith("%"):
        return re.compile(token[1:-1])
    if _NUMBER.match(token):
        return float(token)
    return token


# -- JSON patterns --------------------------------------------------------------------------

_JSON_TOKEN = re.compile(r"""
    \s*(?:
      (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
    | "(?P<string>(?:[^"\\]|\\.)*)"
    | (?P<word>[^\s()=!<>&|"]+)
    )""", re.VERBOSE)


class _JsonParser:
    """expression := term (('&&' | '||') term)*  — && binds tighter than ||
    term := '(' expression ')' | selector comparison"""

    def __init__(self, text: str):
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            found = _JSON_TOKEN.match(text, pos)
            if found is None:
                raise PatternError(f"unexpected character at {pos}")
            pos = found.end()
            if found.group("op"):
                self.tokens.append(("op", found.group("op")))
            elif found.group("string") is not None:
                self.tokens.append(("string", bytes(found.group("string"), "utf-8").decode("unicode_escape")))
            else:
                self.tokens.append(("word", found.group("word")))
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise PatternError("pattern ends too early")
        self.i += 1
        return token

    def parse(self):
        tree = self.disjunction()
        if self.peek() is not None:
            raise PatternError(f"unexpected {self.peek()[1]!r}")
        return tree

    def disjunction(self):
        parts = [self.conjunction()]
        while self.peek() == ("op", "||"):
            self.take()
            parts.append(self.conjunction())
        return ("or", parts) if len(parts) > 1 else parts[0]

    def conjunction(self):
        parts = [self.term()]
        while self.peek() == ("op", "&&"):
            self.take()
            parts.append(self.term())
        return ("and", parts) if len(parts) > 1 else parts[0]

    def term(self):
        kind, text = self.take()
        if (kind, text) == ("op", "("):
            inner = self.disjunction()
            if self.take() != ("op", ")"):
                raise PatternError("missing )")
            return inner
        if kind != "word" or not text.startswith("$"):
            raise PatternError(f"expected a selector, got {text!r}")
        path = _selector(text)
        kind, op = self.take()
        if kind == "word" and op.upper() in ("IS", "NOT"):
            _, what = self.take()
            test = {("IS", "NULL"): "null", ("NOT", "EXISTS"): "missing", ("IS", "TRUE"): "true",
                    ("IS", "FALSE"): "false"}.get((op.upper(), what.upper()))
            if test is None:
                raise PatternError(f"unknown test {op} {what}")
            return ("test", path, test)
        if kind != "op" or op not in ("=", "!=", "<", ">", "<=", ">="):
            raise PatternError(f"expected a comparison after {text}")
        kind, value = self.take()
        if kind == "op":
            raise PatternError(f"expected a value after {op}")
        compared = _value(value, kind == "string")
        if op not in ("=", "!=") and not isinstance(compared, float):
            raise PatternError(f"{op} needs a number")
        return ("compare", path, Comparison(op, compared))


_MISSING = object()
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")


def _selector(text: str) -> tuple:
    if text == "$":
        return ()
    rest = text[1:]
    steps, pos = [], 0
    while pos < len(rest):
        found = _STEP.match(rest, pos)
        if found is None:
            raise PatternError(f"bad selector {text}")
        steps.append(found.group(1) if found.group(1) is not None else int(found.group(2)))
        pos = found.end()
    return tuple(steps)


def _lookup(document, path: tuple):
    value = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return _MISSING
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return _MISSING
            value = value[step]
    return value


def _evaluate(tree, document) -> bool:
    kind = tree[0]
    if kind == "and":
        return all(_evaluate(part, document) for part in tree[1])
    if kind == "or":
        return any(_evaluate(part, document) for part in tree[1])
    value = _lookup(document, tree[1])
    if kind == "test":
        test = tree[2]
        if test == "missing":
            return value is _MISSING
        if test == "null":
            return value is None
        return value is (test == "true")
    if value is _MISSING:
        return False
    return tree[2].test(value)


def _json_matcher(tree) -> Matcher:
    def match(message: str) -> bool:
        text = message.strip()
        if not text.startswith("{"):
            return False
        try:
            document = json.loads(text)
        except ValueError:
            return False
        return isinstance(document, dict) and _evaluate(tree, document)

    return match


# -- space-delimited patterns ---------------------------------------------------------------

ELLIPSIS = "..."
_FIELD_SPLIT = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')


def _parse_fields(text: str) -> list:
    """Each field: ELLIPSIS, or (name, condition tree or None)."""
    fields = []
    for raw in _split_top(text):
        raw = raw.strip()
        if not raw:
            raise PatternError("empty field")
        if raw == ELLIPSIS:
            fields.append(ELLIPSIS)
            continue
        found = re.match(r"^[A-Za-z_][\w.-]*", raw)
        if found is None:
            raise PatternError(f"bad field {raw!r}")
        name = found.group(0)
        rest = raw[found.end():].strip()
        if not rest:
            fields.append((name, None))
            continue
        # `status = 4* || status = 5*`: each mention of the field is the field's value.
        expression = re.sub(rf"(?<![\w$.\"]){re.escape(name)}(?![\w.])", "$", raw)
        tree = _JsonParser(expression).parse()
        fields.append((name, tree))
    return fields


def _split_top(text: str) -> list[str]:
    """Split on commas outside quotes."""
    parts, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _split_event(message: str) -> list[str]:
    out = []
    for token in _FIELD_SPLIT.findall(message):
        if len(token) >= 2 and token[0] == token[-1] == '"':
            token = token[1:-1]
        elif len(token) >= 2 and token[0] == "[" and token[-1] == "]":
            token = token[1:-1]
        out.append(token)
    return out


def _space_matcher(fields: list) -> Matcher:
    def field_ok(spec, value: str) -> bool:
        _, tree = spec
        return tree is None or _evaluate(tree, value)

    def match_from(specs: list, values: list[str]) -> bool:
        if not specs:
            return not values
        head = specs[0]
        if head == ELLIPSIS:
            return any(match_from(specs[1:], values[i:]) for i in range(len(values) + 1))
        if not values:
            return False
        return field_ok(head, values[0]) and match_from(specs[1:], values[1:])

    def match(message: str) -> bool:
        return match_from(fields, _split_event(message))

    return match
