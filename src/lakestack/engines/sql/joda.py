"""Joda-Time patterns (Trino's format_datetime / parse_datetime) as DuckDB strftime/strptime
formats.

Joda letters repeat to choose a width or a text form (`M` 1, `MM` 01, `MMM` Jan, `MMMM`
January); text in single quotes is literal and `''` is a quote. DuckDB's `%-m` style
(no padding) exists only for formatting, so parsing uses the padded codes, which DuckDB's
strptime also accepts for unpadded input.
"""

from __future__ import annotations


def _code(letter: str, count: int, parsing: bool) -> str:
    unpadded = "%" if parsing else "%-"
    if letter in "yYux":
        return "%y" if count == 2 else "%Y"
    if letter == "M":
        return {1: unpadded + "m", 2: "%m", 3: "%b"}.get(count, "%B")
    if letter == "d":
        return unpadded + "d" if count == 1 else "%d"
    if letter == "D":
        return unpadded + "j" if count < 3 else "%j"
    if letter in "Hk":
        return unpadded + "H" if count == 1 else "%H"
    if letter in "hK":
        return unpadded + "I" if count == 1 else "%I"
    if letter == "m":
        return unpadded + "M" if count == 1 else "%M"
    if letter == "s":
        return unpadded + "S" if count == 1 else "%S"
    if letter == "S":
        return {6: "%f", 9: "%n"}.get(count, "%g")
    if letter == "a":
        return "%p"
    if letter == "E":
        return "%a" if count <= 3 else "%A"
    if letter == "e":
        return "%u"
    if letter == "w":
        return "%V"
    if letter == "z":
        return "%Z"
    if letter == "Z":
        return "%z"
    if letter == "G":
        return "AD"
    raise ValueError(f"Illegal pattern component: {letter * count}")


def to_strftime(pattern: str, parsing: bool = False) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end == i + 1:  # '' is a literal quote
                out.append("'")
                i += 2
                continue
            if end < 0:
                end = n
            out.append(pattern[i + 1:end].replace("%", "%%"))
            i = end + 1
            continue
        if ch.isalpha():
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            out.append(_code(ch, j - i, parsing))
            i = j
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)
