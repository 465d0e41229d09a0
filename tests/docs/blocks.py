"""Code blocks of the integration guides, as the doc tests read them.

A block to run carries a marker on the line before its fence, invisible when the page renders:

    <!-- doc-test: run -->                 run it (```python in the doc's namespace, ```sh in bash)
    <!-- doc-test: run, then register -->  run it, then register the app with the `jwks` it made
    <!-- doc-test: run, then browser -->   run it, then play the citizen at `authorization_url`
    <!-- doc-test: json -->                a JSON sample: it must parse

Every ```python, ```sh, ```http and ```json block must carry one; a fence with no language (a
diagram) carries none. Blocks of one doc run in order in one namespace, like a reader typing them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CODE_LANGUAGES = {"python", "sh", "http", "json"}
MARKER = re.compile(r"^<!-- doc-test: (?P<kind>run|json)(?:, then (?P<then>register|browser))? -->$")
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # of the first line of code, 1-based
    lang: str
    code: str
    kind: str | None  # "run" | "json" | None (no marker)
    then: str | None

    @property
    def where(self) -> str:
        return f"{self.doc.name}:{self.line}"


def blocks(doc: Path) -> list[Block]:
    """Every fenced block of `doc`, with its marker (if the line before the fence is one)."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        marker = MARKER.match(lines[i - 1].strip()) if i > 0 else None
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        if end is None:
            raise AssertionError(f"{doc.name}:{i + 1}: a fence that is never closed")
        found.append(
            Block(
                doc=doc,
                line=i + 2,
                lang=fence["lang"],
                code="\n".join(lines[i + 1 : end]) + "\n",
                kind=marker["kind"] if marker else None,
                then=marker["then"] if marker else None,
            )
        )
        i = end + 1
    return found
