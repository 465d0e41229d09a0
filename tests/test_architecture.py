"""Structure the house style promises: imports run app -> domains -> core, never backwards."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("profile_store", "consent", "audit", "agency_connectors", "identity", "notifications")
FORBIDDEN = {
    "core": {"app", "flask", "werkzeug", *DOMAINS},
    **{domain: {"app", "flask", "werkzeug"} for domain in DOMAINS},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_backward_imports():
    offenders = []
    for package, banned in FORBIDDEN.items():
        for path in (ROOT / package).rglob("*.py"):
            if bad := imported_roots(path) & banned:
                offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []


def test_core_may_not_reach_into_profile_store_even_through_other_domains():
    assert "profile_store" not in imported_roots(ROOT / "core" / "db.py")
