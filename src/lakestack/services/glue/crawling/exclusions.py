"""Exclude patterns of an S3 target: globs matched against object paths relative to the
include path. `*` stays within one path segment, `**` crosses segments, `?` is one
character, `[a-z]` / `[!a-c]` a character class, `{a,b}` alternatives, `\\` escapes.
A pattern that matches a folder excludes everything below it.
https://docs.aws.amazon.com/glue/latest/dg/define-crawler-choose-data-sources.html#crawler-data-stores-exclude
"""

from __future__ import annotations

import re


class PatternError(ValueError):
    pass


def glob_to_regex(pattern: str) -> str:
    out, i, in_group = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0:
                raise PatternError(f"unclosed [ in {pattern!r}")
            body = pattern[i + 1:end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            body = body.replace("\\", "\\\\").replace("^", "\\^")
            out.append(f"[{'^/' if negate else ''}{body}]")
            i = end + 1
            continue
        elif ch == "{":
            if in_group:
                raise PatternError(f"nested {{ in {pattern!r}")
            in_group = True
            out.append("(?:")
        elif ch == "}" and in_group:
            in_group = False
            out.append(")")
        elif ch == "," and in_group:
            out.append("|")
        else:
            out.append(re.escape(ch))
        i += 1
    if in_group:
        raise PatternError(f"unclosed {{ in {pattern!r}")
    return "".join(out)


class Exclusions:
    def __init__(self, patterns: list[str] | None):
        try:
            self._compiled = [re.compile(glob_to_regex(p.lstrip("/"))) for p in patterns or []]
        except (PatternError, re.error) as exc:
            raise PatternError(str(exc)) from None

    def __bool__(self) -> bool:
        return bool(self._compiled)

    def excluded(self, relative_key: str) -> bool:
        """Whether an object (path relative to the include path) is excluded, by itself or
        by one of its folders."""
        if not self._compiled:
            return False
        parts = relative_key.split("/")
        candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        return any(rx.fullmatch(c) for rx in self._compiled for c in candidates)
