"""Grok patterns for custom grok classifiers: `%{PATTERN:field:type}` expanded into a regular
expression whose named captures become columns.
https://docs.aws.amazon.com/glue/latest/dg/custom-classifier.html#custom-classifier-grok

The built-in library below covers the patterns log formats commonly use; a classifier's
CustomPatterns (one `NAME regex` per line) add to it or override it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BUILTIN = {
    "USERNAME": r"[a-zA-Z0-9._-]+",
    "USER": r"%{USERNAME}",
    "INT": r"(?:[+-]?(?:[0-9]+))",
    "BASE10NUM": r"(?:[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))",
    "NUMBER": r"(?:%{BASE10NUM})",
    "BASE16NUM": r"(?:0[xX]?[0-9a-fA-F]+)",
    "POSINT": r"\b(?:[1-9][0-9]*)\b",
    "NONNEGINT": r"\b(?:[0-9]+)\b",
    "WORD": r"\b\w+\b",
    "NOTSPACE": r"\S+",
    "SPACE": r"\s*",
    "DATA": r".*?",
    "GREEDYDATA": r".*",
    "QUOTEDSTRING": r'(?:"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')',
    "UUID": r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    "IPV4": r"(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])",
    "IPV6": r"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}",
    "IP": r"(?:%{IPV6}|%{IPV4})",
    "HOSTNAME": r"\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*\.?\b",
    "IPORHOST": r"(?:%{IP}|%{HOSTNAME})",
    "HOSTPORT": r"%{IPORHOST}:%{POSINT}",
    "PATH": r"(?:/[^\s]*)+",
    "URIPATHPARAM": r"\S+",
    "URI": r"[A-Za-z][A-Za-z0-9+.-]*://\S+",
    "MONTH": r"\b(?:[Jj]an(?:uary)?|[Ff]eb(?:ruary)?|[Mm]ar(?:ch)?|[Aa]pr(?:il)?|[Mm]ay|[Jj]un(?:e)?|[Jj]ul(?:y)?"
             r"|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo]ct(?:ober)?|[Nn]ov(?:ember)?|[Dd]ec(?:ember)?)\b",
    "MONTHNUM": r"(?:0?[1-9]|1[0-2])",
    "MONTHDAY": r"(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])",
    "DAY": r"(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)",
    "YEAR": r"(?:\d\d){1,2}",
    "HOUR": r"(?:2[0123]|[01]?[0-9])",
    "MINUTE": r"(?:[0-5][0-9])",
    "SECOND": r"(?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)",
    "TIME": r"%{HOUR}:%{MINUTE}(?::%{SECOND})?",
    "ISO8601_TIMEZONE": r"(?:Z|[+-]%{HOUR}(?::?%{MINUTE}))",
    "TIMESTAMP_ISO8601": r"%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?",
    "DATE_US": r"%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}",
    "DATE_EU": r"%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}",
    "DATE": r"%{DATE_US}|%{DATE_EU}",
    "HTTPDATE": r"%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}",
    "SYSLOGTIMESTAMP": r"%{MONTH} +%{MONTHDAY} %{TIME}",
    "LOGLEVEL": r"(?:[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo|INFO|[Ww]arn?(?:ing)?"
                r"|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL"
                r"|[Ss]evere|SEVERE|EMERG(?:ENCY)?|[Ee]merg(?:ency)?)",
    "COMMONAPACHELOG": r"%{IPORHOST:clientip} %{USER:ident} %{USER:auth} \[%{HTTPDATE:timestamp}\] "
                       r'"(?:%{WORD:verb} %{NOTSPACE:request}(?: HTTP/%{NUMBER:httpversion})?|%{DATA:rawrequest})" '
                       r"%{NUMBER:response} (?:%{NUMBER:bytes}|-)",
    "COMBINEDAPACHELOG": r"%{COMMONAPACHELOG} %{QUOTEDSTRING:referrer} %{QUOTEDSTRING:agent}",
}

# Glue's grok field types, as Hive column types.
TYPES = {"byte": "tinyint", "boolean": "boolean", "double": "double", "short": "smallint", "int": "int",
         "long": "bigint", "float": "float", "string": "string", "date": "date", "timestamp": "timestamp",
         "decimal": "decimal(38,18)"}

_REFERENCE = re.compile(r"%\{(\w+)(?::([\w.@\[\]-]+))?(?::(\w+))?\}")
MAX_DEPTH = 32


class GrokError(ValueError):
    pass


@dataclass(frozen=True)
class Grok:
    regex: re.Pattern
    fields: tuple[tuple[str, str, str], ...]  # (group name, column name, Hive type)

    def match(self, line: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(line)
        if found is None:
            return None
        return {column: found.group(group) for group, column, _ in self.fields}


def parse_custom(text: str) -> dict[str, str]:
    patterns = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, body = line.partition(" ")
        if not re.fullmatch(r"\w+", name) or not body.strip():
            raise GrokError(f"bad custom pattern line {line!r}")
        patterns[name] = body.strip()
    return patterns


def compile_grok(pattern: str, custom: str = "") -> Grok:
    library = {**BUILTIN, **parse_custom(custom)}
    fields: list[tuple[str, str, str]] = []

    def expand(text: str, depth: int) -> str:
        if depth > MAX_DEPTH:
            raise GrokError("patterns refer to each other in a loop")

        def replace(match: re.Match) -> str:
            name, field, kind = match.groups()
            if name not in library:
                raise GrokError(f"unknown pattern %{{{name}}}")
            body = expand(library[name], depth + 1)
            if field is None:
                return f"(?:{body})"
            if kind is not None and kind.lower() not in TYPES:
                raise GrokError(f"unknown type {kind!r} for field {field}")
            group = f"g{len(fields)}"
            fields.append((group, field.lower(), TYPES[(kind or "string").lower()]))
            return f"(?P<{group}>{body})"

        return _REFERENCE.sub(replace, text)

    try:
        regex = re.compile(expand(pattern, 0))
    except re.error as exc:
        raise GrokError(str(exc)) from None
    if not fields:
        raise GrokError("the pattern names no fields")
    return Grok(regex, tuple(fields))
