"""The partition predicate language of GetPartitions' `Expression`.

A SQL WHERE clause over partition keys:

    expr       := term (OR term)*
    term       := factor (AND factor)*
    factor     := NOT factor | '(' expr ')' | predicate
    predicate  := operand ( op operand
                          | [NOT] BETWEEN operand AND operand
                          | [NOT] IN '(' operand (',' operand)* ')'
                          | [NOT] LIKE operand
                          | IS [NOT] NULL )
    op         := '=' | '<>' | '!=' | '<' | '<=' | '>' | '>='
    operand    := identifier | `quoted identifier` | 'string' | number

Values compare as the partition key's type: integers numerically, decimals and floats as
decimals, dates and timestamps chronologically, everything else as strings.
https://docs.aws.amazon.com/glue/latest/webapi/API_GetPartitions.html

`compile_predicate` parses once and returns a function of a partition's values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lakestack.services.glue.errors import invalid_input

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<quoted>`[^`]+`)
    | (?P<word>[A-Za-z_][A-Za-z0-9_$.]*)
    | (?P<op><>|!=|<=|>=|=|<|>)
    | (?P<punct>[(),])
    )""", re.VERBOSE)

KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "IN", "LIKE", "IS", "NULL"}
INTEGRAL = {"tinyint", "smallint", "int", "integer", "bigint", "long"}
FRACTIONAL = {"float", "double", "decimal", "real", "numeric"}


class ExpressionError(Exception):
    pass


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, ident, keyword, op, punct, end
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"unexpected character at position {pos}: {text[pos:pos + 10]!r}")
        kind = match.lastgroup
        value = match.group(kind)
        start = match.start(kind)
        if kind == "word":
            kind = "keyword" if value.upper() in KEYWORDS else "ident"
            value = value.upper() if kind == "keyword" else value
        elif kind == "quoted":
            kind, value = "ident", value[1:-1]
        elif kind == "string":
            value = value[1:-1].replace("''", "'")
        tokens.append(Token(kind, value, start))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# The syntax tree: plain tuples keep it small and easy to print in tests.
#   ("or", a, b) ("and", a, b) ("not", a)
#   ("cmp", op, left, right) ("between", operand, low, high) ("in", operand, [items]) ("like", operand, pattern)
#   ("isnull", operand)
#   operands: ("col", name) ("str", text) ("num", text)


class Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        token = self.current
        if token.kind == kind and (text is None or token.text == text):
            self.i += 1
            return token
        return None

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.accept(kind, text)
        if token is None:
            found = self.current.text or "end of expression"
            raise ExpressionError(f"expected {text or kind} at position {self.current.position}, found {found!r}")
        return token

    def parse(self):
        tree = self.expr()
        if self.current.kind != "end":
            raise ExpressionError(f"unexpected {self.current.text!r} at position {self.current.position}")
        return tree

    def expr(self):
        node = self.term()
        while self.accept("keyword", "OR"):
            node = ("or", node, self.term())
        return node

    def term(self):
        node = self.factor()
        while self.accept("keyword", "AND"):
            node = ("and", node, self.factor())
        return node

    def factor(self):
        if self.accept("keyword", "NOT"):
            return ("not", self.factor())
        if self.current.kind == "punct" and self.current.text == "(":
            # A parenthesis opens a sub-expression (operands are never parenthesized).
            self.take()
            node = self.expr()
            self.expect("punct", ")")
            return node
        return self.predicate()

    def operand(self):
        token = self.take()
        if token.kind == "ident":
            return ("col", token.text)
        if token.kind == "string":
            return ("str", token.text)
        if token.kind == "number":
            return ("num", token.text)
        raise ExpressionError(f"expected a column or a literal at position {token.position}, "
                              f"found {token.text or 'end of expression'!r}")

    def predicate(self):
        left = self.operand()
        if (op := self.accept("op")) is not None:
            return ("cmp", "<>" if op.text == "!=" else op.text, left, self.operand())
        if self.accept("keyword", "IS"):
            negated = self.accept("keyword", "NOT") is not None
            self.expect("keyword", "NULL")
            node = ("isnull", left)
            return ("not", node) if negated else node
        negated = self.accept("keyword", "NOT") is not None
        if self.accept("keyword", "BETWEEN"):
            low = self.operand()
            self.expect("keyword", "AND")
            node = ("between", left, low, self.operand())
        elif self.accept("keyword", "IN"):
            self.expect("punct", "(")
            items = [self.operand()]
            while self.accept("punct", ","):
                items.append(self.operand())
            self.expect("punct", ")")
            node = ("in", left, items)
        elif self.accept("keyword", "LIKE"):
            node = ("like", left, self.operand())
        else:
            found = self.current.text or "end of expression"
            raise ExpressionError(f"expected an operator at position {self.current.position}, found {found!r}")
        return ("not", node) if negated else node


def parse(text: str):
    return Parser(text).parse()


# -- evaluation ---------------------------------------------------------------------------

def _converter(type_name: str) -> Callable[[str], object]:
    base = type_name.lower().split("(")[0].strip()
    if base in INTEGRAL:
        return lambda text: int(Decimal(text))
    if base in FRACTIONAL:
        return Decimal
    if base == "date":
        return lambda text: dt.date.fromisoformat(text.strip())
    if base == "timestamp":
        return lambda text: dt.datetime.fromisoformat(text.strip())
    return str


def _like(pattern: str) -> re.Pattern:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


_COMPARE = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class _Binder:
    """Turns a tree into a function of {key: value}, typed by the partition keys."""

    def __init__(self, key_types: dict[str, str]):
        self.key_types = {k.lower(): v for k, v in key_types.items()}

    def column(self, name: str) -> str:
        key = name.lower()
        if key not in self.key_types:
            raise ExpressionError(f"unknown partition key {name!r}")
        return key

    def typed_operands(self, *operands):
        """Accessors for operands, converting to the type of the first column among them."""
        type_name = next((self.key_types[self.column(o[1])] for o in operands if o[0] == "col"), "string")
        convert = _converter(type_name)
        accessors = []
        for kind, text in operands:
            if kind == "col":
                key = self.column(text)
                accessors.append(lambda values, key=key: convert(values[key]))
            else:
                try:
                    constant = convert(text)
                except (ValueError, ArithmeticError, InvalidOperation):
                    raise ExpressionError(f"{text!r} is not a valid {type_name}") from None
                accessors.append(lambda values, constant=constant: constant)
        return accessors

    def bind(self, node) -> Callable[[dict], bool]:
        kind = node[0]
        if kind in ("and", "or"):
            left, right = self.bind(node[1]), self.bind(node[2])
            if kind == "and":
                return lambda v: left(v) and right(v)
            return lambda v: left(v) or right(v)
        if kind == "not":
            inner = self.bind(node[1])
            return lambda v: not inner(v)
        if kind == "cmp":
            compare = _COMPARE[node[1]]
            left, right = self.typed_operands(node[2], node[3])
            return lambda v: _safe(lambda: compare(left(v), right(v)))
        if kind == "between":
            x, low, high = self.typed_operands(node[1], node[2], node[3])
            return lambda v: _safe(lambda: low(v) <= x(v) <= high(v))
        if kind == "in":
            x, *items = self.typed_operands(node[1], *node[2])
            return lambda v: _safe(lambda: x(v) in {item(v) for item in items})
        if kind == "like":
            if node[2][0] == "col":
                raise ExpressionError("LIKE needs a string pattern")
            pattern = _like(node[2][1])
            x = self.typed_operands(node[1])[0]
            return lambda v: _safe(lambda: pattern.fullmatch(str(x(v))) is not None)
        if kind == "isnull":
            if node[1][0] == "col":
                self.column(node[1][1])
            return lambda v: False  # partition values are never null
        raise ExpressionError(f"unsupported node {kind}")


def _safe(test: Callable[[], bool]) -> bool:
    # A stored value that does not parse as its key's type simply does not match.
    try:
        return bool(test())
    except (ValueError, TypeError, ArithmeticError, InvalidOperation):
        return False


def compile_predicate(expression: str, partition_keys: list[dict]) -> Callable[[list[str]], bool]:
    """A function of a partition's Values list that says whether the expression holds.
    Raises InvalidInputException for a malformed expression."""
    names = [k["Name"].lower() for k in partition_keys]
    types = {k["Name"]: k.get("Type") or "string" for k in partition_keys}
    try:
        test = _Binder(types).bind(parse(expression))
    except ExpressionError as exc:
        raise invalid_input(f"Unsupported expression '{expression}': {exc}") from None
    return lambda values: test(dict(zip(names, values, strict=False)))
