"""The JsonPath subset custom JSON classifiers use to say where records are:
`$`, `.name`, `['name']`, `[n]` and `[*]`, e.g. `$[*]` or `$.orders[*].items[*]`.
https://docs.aws.amazon.com/glue/latest/dg/custom-classifier.html#custom-classifier-json
"""

from __future__ import annotations

import re

_STEP = re.compile(r"\.(?P<name>[A-Za-z_$][\w$-]*)|\[(?:'(?P<quoted>[^']*)'|(?P<index>\d+)|(?P<star>\*))\]|\.\*")


class JsonPathError(ValueError):
    pass


def parse_json_path(path: str) -> list:
    """Steps: a str (member), an int (index) or None (every element/member)."""
    if not path.startswith("$"):
        raise JsonPathError("a JsonPath starts with $")
    steps, pos = [], 1
    while pos < len(path):
        match = _STEP.match(path, pos)
        if match is None:
            raise JsonPathError(f"unexpected {path[pos:]!r}")
        if match.group("name") is not None:
            steps.append(match.group("name"))
        elif match.group("quoted") is not None:
            steps.append(match.group("quoted"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(None)
        pos = match.end()
    return steps


def select(document, steps: list) -> list:
    """Every value the path reaches in `document`."""
    current = [document]
    for step in steps:
        following = []
        for value in current:
            if step is None:
                if isinstance(value, list):
                    following.extend(value)
                elif isinstance(value, dict):
                    following.extend(value.values())
            elif isinstance(step, int):
                if isinstance(value, list) and step < len(value):
                    following.append(value[step])
            elif isinstance(value, dict) and step in value:
                following.append(value[step])
        current = following
    return current
