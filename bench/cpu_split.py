"""Where a person call's CPU goes, from a profile written by bench/person_cpu.py:

    .venv/bin/python -m bench.person_cpu --profile person --profile-out /tmp/person.prof
    .venv/bin/python -m bench.cpu_split /tmp/person.prof [/tmp/other.prof ...]

Prints each part's share of the WSGI call (cumulative CPU time of the function that does it;
cProfile's own overhead inflates small functions, so read shares, not milliseconds). The parts
are the functions on the person call's path; a function a profile lacks shows as '-'.
"""

from __future__ import annotations

import pstats
import sys

# (label, file suffix, function name): the first match in the profile counts.
PARTS = (
    ("access token + DPoP proof checks", "app/oauth/resource.py", "dpop_bound_token"),
    ("token row, consent, app, citizen (usable_token)", "consent/grants.py", "usable_token"),
    ("freshness check (_stale_agencies)", "app/oauth/release.py", "_stale_agencies"),
    ("profile read (read_person, with the last successes)", "profile_store/assembly.py", "read_person"),
    ("decryption and assembly (assemble_read)", "profile_store/assembly.py", "assemble_read"),
    ("JWS + JWE (seal)", "app/oauth/release.py", "seal"),
    ("DPoP jti recorded (spend)", "app/oauth/resource.py", "spend"),
    ("audit append (record)", "app/auditing.py", "record"),
    ("release notice (notify_release)", "app/notices/events.py", "notify_release"),
    ("consent marked used (mark_used)", "consent/lifecycle.py", "mark_used"),
    ("commits (every session)", "sqlalchemy/orm/session.py", "commit"),
    ("Flask before-request hooks", "flask/app.py", "preprocess_request"),
    ("Flask after-request hooks, response", "flask/app.py", "finalize_request"),
    ("request context (incl. cookie session)", "flask/ctx.py", "push"),
)
TOTAL = ("flask/app.py", "wsgi_app")


def cumulative(stats: pstats.Stats, suffix: str, name: str) -> float | None:
    """The largest cumulative time of a function `name` in a file ending `suffix` (the outermost
    of same-named ones, e.g. Session.commit over SessionTransaction.commit)."""
    found = [
        ct
        for (path, _line, function), (_cc, _nc, _tt, ct, _callers) in stats.stats.items()  # type: ignore[attr-defined]
        if function == name and path.endswith(suffix)
    ]
    return max(found) if found else None


def main(paths: list[str]) -> None:
    profiles = [pstats.Stats(path) for path in paths]
    totals = [cumulative(stats, *TOTAL) or 1.0 for stats in profiles]
    print("| part | " + " | ".join(paths) + " |")
    print("| --- |" + " --- |" * len(paths))
    for label, suffix, name in PARTS:
        cells = []
        for stats, total in zip(profiles, totals, strict=True):
            value = cumulative(stats, suffix, name)
            cells.append("-" if value is None else f"{value / total:.0%}")
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
