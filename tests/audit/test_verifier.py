"""The standalone export verifier and checkpoint signing, on a synthetic log built in memory."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit.canonical import canonical_json
from audit.checkpoint_signing import (
    key_id,
    load_private_key_pem,
    load_public_key_pem,
    new_private_key,
    private_key_pem,
    public_key_pem,
    sign_checkpoint,
    verify_checkpoint,
)
from audit.merkle import ZERO_HASH, chain_next, leaf_hash, mth
from audit.verifier import PartialExportError, main, verify_export

ROOT = Path(__file__).resolve().parents[2]
LOG_ID = "consentry-test"
KEY = new_private_key()
OTHER_KEY = new_private_key()
N = 300


def make_bodies(n: int, app: str = "hdb-flat-application") -> list[dict]:
    return [
        {
            "seq": i,
            "kind": "disclosure",
            "app": app,
            "attributes": ["name", "dob", "regadd"][: 1 + i % 3],
            "time": f"2025-03-{1 + i // 100:02d}T10:{i % 60:02d}:00.000000Z",
        }
        for i in range(n)
    ]


def hashes(bodies: list[dict]) -> tuple[list[bytes], list[bytes]]:
    leaves, chains, chain = [], [], ZERO_HASH
    for body in bodies:
        leaves.append(leaf_hash(canonical_json(body)))
        chain = chain_next(chain, leaves[-1])
        chains.append(chain)
    return leaves, chains


def export(bodies: list[dict], first_seq: int = 0, log_id: str = LOG_ID) -> list[str]:
    """Export lines as audit.export writes them: the canonical body spliced in verbatim."""
    leaves, chains = hashes(bodies)
    header = {"format": "consentry-audit-export/1", "log_id": log_id, "first_seq": first_seq, "count": 0}
    lines = [
        f'{{"seq":{i},"body":{canonical_json(b).decode()},"leaf_hash":"{leaves[i].hex()}",'
        f'"chain_hash":"{chains[i].hex()}"}}\n'
        for i, b in enumerate(bodies)
        if i >= first_seq
    ]
    header["count"] = len(lines)
    return [json.dumps(header) + "\n", *lines]


def checkpoint_body(bodies: list[dict], size: int, key=KEY) -> dict:
    leaves, chains = hashes(bodies[:size])
    return {
        "log_id": LOG_ID,
        "tree_size": size,
        "root_hash": mth(leaves).hex(),
        "chain_head": (chains[-1] if size else ZERO_HASH).hex(),
        "timestamp": "2025-03-04T05:06:07Z",
        "key_id": key_id(key.public_key()),
    }


BODIES = make_bodies(N)
LINES = export(BODIES)
CHECKPOINT = sign_checkpoint(KEY, checkpoint_body(BODIES, N))
PUBLIC = KEY.public_key()


def line_of(seq: int) -> int:
    return seq + 2  # 1-based, after the header


def verify(lines, checkpoint=CHECKPOINT, **kwargs):
    return verify_export(iter(lines), checkpoint, PUBLIC, **kwargs)


def assert_fails(report, *, seq, line, problem):
    assert not report.ok
    error = report.first_error
    assert (error["seq"], error["line"]) == (seq, line), error
    assert problem in error["problem"], error
    return error


def edit(lines: list[str], seq: int, change) -> list[str]:
    entry = json.loads(lines[line_of(seq) - 1])
    change(entry)
    edited = [*lines]
    edited[line_of(seq) - 1] = json.dumps(entry) + "\n"
    return edited


def test_clean_export_verifies():
    report = verify(LINES)
    assert report.ok and report.first_error is None
    assert (report.checked, report.uncovered, report.root_checked, report.chain_head_checked) == (
        N,
        0,
        True,
        True,
    )


def test_hashes_cover_the_body_not_its_formatting():
    """Re-serialising the lines (whitespace, member order) keeps them valid: the leaf hash is over
    the canonical form of the parsed body."""
    reformatted = [LINES[0]] + [
        json.dumps({k: dict(reversed(v.items())) if k == "body" else v for k, v in reversed(e.items())})
        + "\n"
        for e in map(json.loads, LINES[1:])
    ]
    assert reformatted[1] != LINES[1]
    assert verify(reformatted).ok


def test_trailing_blank_lines_are_tolerated_but_not_blank_lines_inside():
    assert verify([*LINES, "\n", ""]).ok
    assert_fails(verify([*LINES[:11], "\n", *LINES[11:]]), seq=10, line=12, problem="blank line")


def test_tampered_body_is_reported_with_expected_and_found_leaf_hash():
    tampered = edit(LINES, 123, lambda e: e["body"].update(app="someone-else"))
    body = json.loads(tampered[line_of(123) - 1])["body"]
    error = assert_fails(verify(tampered), seq=123, line=125, problem="leaf hash mismatch")
    assert error["expected"] == leaf_hash(canonical_json(body)).hex()
    assert error["found"] == json.loads(LINES[line_of(123) - 1])["leaf_hash"]


def test_deleted_line_is_a_gap():
    lines = LINES[: line_of(50) - 1] + LINES[line_of(50) :]
    error = assert_fails(verify(lines), seq=50, line=52, problem="gap")
    assert (error["expected"], error["found"]) == ("seq 50", "seq 51")


def test_swapped_lines_are_out_of_order():
    lines = [*LINES]
    lines[line_of(70) - 1], lines[line_of(71) - 1] = lines[line_of(71) - 1], lines[line_of(70) - 1]
    assert_fails(verify(lines), seq=70, line=72, problem="out of order")


def test_duplicated_line_is_reported():
    lines = [*LINES[: line_of(99)], LINES[line_of(99) - 1], *LINES[line_of(99) :]]
    error = assert_fails(verify(lines), seq=100, line=102, problem="duplicate")
    assert error["found"] == "seq 99"


def test_truncated_tail_is_reported_against_the_checkpoint():
    error = assert_fails(verify(LINES[:-20]), seq=280, line=282, problem="truncated")
    assert "ends at seq 279, checkpoint covers 300" in error["problem"]


def test_forged_chain_hash_is_reported():
    forged = edit(LINES, 200, lambda e: e.update(chain_hash="ab" * 32))
    error = assert_fails(verify(forged), seq=200, line=202, problem="chain hash mismatch")
    assert error["found"] == "ab" * 32


def test_rewritten_history_with_a_consistent_chain_fails_at_the_checkpoint():
    rewritten = [*BODIES]
    rewritten[40] = {**BODIES[40], "app": "covered-up"}
    assert_fails(verify(export(rewritten)), seq=N - 1, line=line_of(N - 1), problem="chain head mismatch")


def test_deleting_an_entry_and_renumbering_fails_at_the_checkpoint():
    shortened = [{**b, "seq": i} for i, b in enumerate(BODIES[:10] + BODIES[11:])]
    assert_fails(verify(export(shortened)), seq=N - 1, line=line_of(N - 1), problem="truncated")


def test_checkpoint_signed_by_another_key_is_forged_or_swapped():
    by_other = sign_checkpoint(OTHER_KEY, checkpoint_body(BODIES, N, key=OTHER_KEY))
    assert_fails(verify(LINES, by_other), seq=None, line=0, problem="forged or swapped")
    body = checkpoint_body(BODIES, N)  # names our key, but another key signed it
    forged = {
        "body": body,
        "signature": sign_checkpoint(OTHER_KEY, {**body, "key_id": key_id(OTHER_KEY.public_key())})[
            "signature"
        ],
    }
    assert_fails(verify(LINES, forged), seq=None, line=0, problem="signature does not verify")


@pytest.mark.parametrize(
    "change", [{"root_hash": "00" * 32}, {"tree_size": N - 1}, {"chain_head": "11" * 32}, {"log_id": "other"}]
)
def test_altered_checkpoint_fails_its_signature(change):
    altered = {"body": {**CHECKPOINT["body"], **change}, "signature": CHECKPOINT["signature"]}
    assert_fails(verify(LINES, altered), seq=None, line=0, problem="signature does not verify")


@pytest.mark.parametrize(
    "change",
    [{"root_hash": "AB" * 32}, {"tree_size": -1}, {"timestamp": "2025-03-04 05:06:07"}, {"log_id": 5}],
)
def test_signed_but_malformed_checkpoint_body(change):
    signed = sign_checkpoint(KEY, {**CHECKPOINT["body"], **change})
    error = assert_fails(verify(LINES, signed), seq=None, line=0, problem="checkpoint body malformed")
    assert next(iter(change)) in error["found"]


def test_validly_signed_checkpoint_of_a_different_log_is_swapped_in():
    other_log = make_bodies(250, app="another-app")
    swapped = sign_checkpoint(KEY, checkpoint_body(other_log, 250))
    assert_fails(verify(LINES, swapped), seq=249, line=line_of(249), problem="chain head mismatch")


def test_signed_checkpoint_with_right_chain_but_wrong_root_is_a_root_mismatch():
    body = {**checkpoint_body(BODIES, 250), "root_hash": checkpoint_body(BODIES, 249)["root_hash"]}
    error = assert_fails(
        verify(LINES, sign_checkpoint(KEY, body)), seq=249, line=251, problem="root mismatch"
    )
    assert error["found"] == body["root_hash"]


def test_entries_after_the_checkpoint_are_chain_checked_but_uncovered():
    report = verify(LINES, sign_checkpoint(KEY, checkpoint_body(BODIES, 250)))
    assert report.ok and (report.checked, report.uncovered, report.root_checked) == (N, 50, True)
    assert any("50 entries" in note for note in report.notes)
    forged = edit(LINES, 280, lambda e: e.update(chain_hash="cd" * 32))
    assert_fails(
        verify(forged, sign_checkpoint(KEY, checkpoint_body(BODIES, 250))), seq=280, line=282, problem="chain"
    )


def test_empty_log_and_empty_checkpoint():
    empty = sign_checkpoint(KEY, checkpoint_body([], 0))
    report = verify(export([]), empty)
    assert report.ok and report.root_checked and report.checked == 0
    assert verify(LINES, empty).ok  # every entry uncovered, still chain-checked
    assert_fails(verify(export([]), CHECKPOINT), seq=0, line=2, problem="truncated")


def test_header_problems():
    assert_fails(verify([]), seq=None, line=1, problem="missing header")
    assert_fails(
        verify(['{"format": "something-else/1"}\n', *LINES[1:]]), seq=None, line=1, problem="malformed header"
    )
    assert_fails(verify(export(BODIES, log_id="elsewhere")), seq=None, line=1, problem="another log")
    miscounted = [LINES[0].replace(f'"count": {N}', f'"count": {N + 1}'), *LINES[1:]]
    assert_fails(verify(miscounted), seq=None, line=line_of(N - 1), problem="count")
    extra = [LINES[0], *LINES[1:], *export(make_bodies(N + 1))[-1:]]
    assert_fails(verify(extra), seq=None, line=line_of(N), problem="count")


def test_malformed_entry_lines():
    broken = [*LINES]
    broken[line_of(10) - 1] = '{"seq": 10, "body": \n'
    assert_fails(verify(broken), seq=10, line=12, problem="malformed entry line")
    extra_key = edit(LINES, 11, lambda e: e.update(note="x"))
    assert_fails(verify(extra_key), seq=11, line=13, problem="malformed entry line")
    floaty = edit(LINES, 12, lambda e: e["body"].update(amount=1.5))
    assert_fails(verify(floaty), seq=12, line=14, problem="canonicalised")
    huge = edit(LINES, 14, lambda e: e["body"].update(count=2**60))
    assert_fails(verify(huge), seq=14, line=16, problem="canonicalised")
    not_a_number = edit(LINES, 15, lambda e: e["body"].update(ratio=float("nan")))
    assert_fails(verify(not_a_number), seq=15, line=17, problem="canonicalised")
    renumbered = edit(LINES, 13, lambda e: e["body"].update(seq=99))
    assert_fails(verify(renumbered), seq=13, line=15, problem="leaf hash mismatch")


def test_partial_export_needs_and_uses_the_previous_chain_hash():
    _, chains = hashes(BODIES)
    partial = export(BODIES, first_seq=100)
    report = verify(partial, prev_chain_hash=chains[99])
    assert report.ok and report.checked == 200
    assert (report.root_checked, report.chain_head_checked) == (False, True)
    assert any("root not checkable" in note for note in report.notes)
    with pytest.raises(PartialExportError):
        verify(partial)
    with pytest.raises(PartialExportError):
        verify(LINES, prev_chain_hash=chains[0])
    assert_fails(verify(partial, prev_chain_hash=chains[98]), seq=100, line=2, problem="chain hash mismatch")
    early = sign_checkpoint(KEY, checkpoint_body(BODIES, 100))
    assert verify(partial, early, prev_chain_hash=chains[99]).chain_head_checked
    assert_fails(verify(partial, early, prev_chain_hash=chains[98]), seq=99, line=1, problem="chain head")


def test_checkpoint_signing_round_trip_and_malformed_input():
    body = checkpoint_body(BODIES, 5)
    signed = sign_checkpoint(KEY, body)
    assert verify_checkpoint(PUBLIC, signed)
    assert len(signed["signature"]) == 86 and "=" not in signed["signature"]
    assert not verify_checkpoint(OTHER_KEY.public_key(), signed)
    for junk in (
        None,
        [],
        "x",
        {},
        {"body": body},
        {"body": [], "signature": signed["signature"]},
        {"body": body, "signature": 7},
        {"body": body, "signature": signed["signature"] + "A"},
        {"body": {**body, "n": 1.5}, "signature": signed["signature"]},
        {"body": body, "signature": signed["signature"][:-1]},
    ):
        assert verify_checkpoint(PUBLIC, junk) is False
    # A non-canonical last character (stray padding bits) decodes to the same bytes: still refused.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sig = signed["signature"]
    assert not verify_checkpoint(
        PUBLIC, {"body": body, "signature": sig[:-1] + alphabet[alphabet.index(sig[-1]) + 1]}
    )
    with pytest.raises(ValueError, match="key_id"):
        sign_checkpoint(OTHER_KEY, body)


def test_key_serialisation_and_key_id():
    import hashlib

    from cryptography.hazmat.primitives import serialization

    raw = PUBLIC.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(PUBLIC) == hashlib.sha256(raw).hexdigest()[:16]
    pem = public_key_pem(PUBLIC)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert key_id(load_public_key_pem(pem)) == key_id(PUBLIC)
    private = private_key_pem(KEY)
    assert private.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key_id(load_private_key_pem(private).public_key()) == key_id(PUBLIC)
    with pytest.raises(ValueError):
        load_public_key_pem(b"not a key")
    with pytest.raises(ValueError):
        load_private_key_pem(pem)


# --- command line ---------------------------------------------------------------------------------


def write_inputs(tmp_path: Path, lines: list[str], checkpoint: dict = CHECKPOINT) -> list[str]:
    (tmp_path / "export.jsonl").write_text("".join(lines), encoding="utf-8")
    (tmp_path / "cp.json").write_text(json.dumps(checkpoint), encoding="utf-8")
    (tmp_path / "key.pem").write_bytes(public_key_pem(PUBLIC))
    return [
        str(tmp_path / "export.jsonl"),
        "--checkpoint",
        str(tmp_path / "cp.json"),
        "--public-key",
        str(tmp_path / "key.pem"),
    ]


def test_cli_exit_codes_and_output(tmp_path, capsys):
    args = write_inputs(tmp_path, LINES)
    assert main(args) == 0
    assert "OK: 300 entries verified" in capsys.readouterr().out

    write_inputs(tmp_path, edit(LINES, 123, lambda e: e["body"].update(app="x")))
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "FAILED at line 125, seq 123: leaf hash mismatch" in out and "expected:" in out and "found:" in out

    assert main([*args[:1], "--checkpoint", str(tmp_path / "missing.json"), *args[3:]]) == 2
    write_inputs(tmp_path, export(BODIES, first_seq=100))
    assert main(args) == 2
    assert "--prev-chain-hash" in capsys.readouterr().err
    _, chains = hashes(BODIES)
    assert main([*args, "--prev-chain-hash", chains[99].hex()]) == 0
    with pytest.raises(SystemExit) as usage:
        main([*args, "--prev-chain-hash", "xyz"])
    assert usage.value.code == 2


def test_cli_reports_invalid_utf8_at_its_line(tmp_path, capsys):
    args = write_inputs(tmp_path, LINES)
    data = [line.encode() for line in LINES]
    data[line_of(3) - 1] = data[line_of(3) - 1].replace(b'"kind":"disclosure"', b'"kind":"disc\xffosure"')
    (tmp_path / "export.jsonl").write_bytes(b"".join(data))
    assert main(args) == 1
    assert "FAILED at line 5, seq 3: body cannot be canonicalised" in capsys.readouterr().out


def test_cli_runs_as_a_module(tmp_path):
    args = write_inputs(tmp_path, LINES[:-1])
    result = subprocess.run(
        [sys.executable, "-m", "audit.verifier", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 1, result.stderr
    assert "FAILED at line 301, seq 299: truncated" in result.stdout


FORBIDDEN = {
    "sqlalchemy",
    "flask",
    "werkzeug",
    "marshmallow",
    "joserfc",
    "app",
    "core",
    "consent",
    "profile_store",
    "agency_connectors",
}
STANDALONE = {
    "audit", "audit.canonical", "audit.merkle", "audit.checkpoint_signing", "audit.proof_check",
    "audit.verifier", "audit.verifier_walk", "audit.verifier_bundle", "audit.witness_verify",
    "audit.witness_format", "audit.note",
}  # fmt: skip


def test_verifier_imports_nothing_from_the_application():
    """An auditor's machine has only the stdlib and cryptography: importing the verifier must not
    pull in SQLAlchemy, Flask or any other project package. -I leaves the stdlib and
    site-packages on sys.path; the repository root goes in front."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); import audit.verifier; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    modules = json.loads(result.stdout)
    assert [m for m in modules if m.split(".")[0] in FORBIDDEN] == []
    assert {m for m in modules if m.split(".")[0] == "audit"} == STANDALONE


def test_standalone_modules_import_only_the_stdlib_cryptography_and_each_other():
    for name in STANDALONE - {"audit"}:
        tree = ast.parse((ROOT / "audit" / f"{name.split('.')[1]}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {node.module.split(".")[0]}
            elif isinstance(node, ast.ImportFrom):
                assert f"audit.{node.module}" in STANDALONE, (name, node.module)
                continue
            else:
                continue
            assert roots <= sys.stdlib_module_names | {"cryptography"}, (name, roots)


# --- entries named by id (batched integration): each id once -------------------------------------


def batched_bodies(ids: list[int], leaves_from: int = 4) -> list[dict]:
    """`leaves_from` entries naming their seq, then one naming each of `ids` (as a batched log's
    export holds them: the line's seq is the leaf position, the body names the entry's id)."""
    bodies = make_bodies(leaves_from)
    for position, entry_id in enumerate(ids, start=leaves_from):
        body = {key: value for key, value in make_bodies(position + 1)[position].items() if key != "seq"}
        bodies.append({**body, "id": entry_id})
    return bodies


def signed_export(bodies: list[dict], size: int | None = None) -> tuple[list[str], dict]:
    """A doctored log exported with every hash recomputed and its checkpoint signed: only the
    names can tell."""
    size = len(bodies) if size is None else size
    return export(bodies), sign_checkpoint(KEY, checkpoint_body(bodies, size))


def test_ids_out_of_order_and_with_gaps_verify():
    lines, checkpoint = signed_export(batched_bodies([5, 4, 9, 7]))
    assert verify(lines, checkpoint).ok


def test_an_id_named_twice_is_a_finding_naming_the_id():
    lines, checkpoint = signed_export(batched_bodies([4, 9, 5, 9, 6]))
    error = assert_fails(verify(lines, checkpoint), seq=7, line=line_of(7), problem="duplicate entry id 9")
    assert (error["expected"], error["found"]) == ("a new id", "id 9")


def test_an_id_naming_an_earlier_seq_is_a_duplicate():
    lines, checkpoint = signed_export(batched_bodies([4, 2, 5]))
    assert_fails(verify(lines, checkpoint), seq=5, line=line_of(5), problem="duplicate entry id 2")


def test_a_duplicate_after_the_checkpoint_is_found_too():
    lines, checkpoint = signed_export(batched_bodies([4, 5, 6, 5]), size=6)  # chain-checked only
    assert_fails(verify(lines, checkpoint), seq=7, line=line_of(7), problem="duplicate entry id 5")


def test_a_far_id_named_twice_is_found():
    lines, checkpoint = signed_export(batched_bodies([4, 10**12, 5, 10**12]))
    assert_fails(verify(lines, checkpoint), seq=7, line=line_of(7), problem=f"duplicate entry id {10**12}")


def test_cli_names_the_duplicated_id(tmp_path, capsys):
    lines, checkpoint = signed_export(batched_bodies([4, 9, 5, 9, 6]))
    assert main(write_inputs(tmp_path, lines, checkpoint)) == 1
    out = capsys.readouterr().out
    assert f"FAILED at line {line_of(7)}" in out and "duplicate entry id 9" in out


def test_a_finding_at_an_entry_named_by_id_names_its_leaf_and_its_id(tmp_path, capsys):
    bodies = batched_bodies([4, 9, 5, 6])
    lines, checkpoint = signed_export(bodies)
    altered = edit(lines, 5, lambda e: e["body"].update(app="x"))
    error = assert_fails(verify(altered, checkpoint), seq=5, line=line_of(5), problem="body altered")
    assert error["id"] == 9
    assert main(write_inputs(tmp_path, altered, checkpoint)) == 1
    assert f"FAILED at line {line_of(5)}, leaf 5 (id 9): leaf hash mismatch" in capsys.readouterr().out

    wrong_root = sign_checkpoint(KEY, {**checkpoint_body(bodies, len(bodies)), "root_hash": "00" * 32})
    error = assert_fails(verify(lines, wrong_root), seq=7, line=line_of(7), problem="root mismatch")
    assert error["id"] == 6
    assert main(write_inputs(tmp_path, lines, wrong_root)) == 1
    assert f"FAILED at line {line_of(7)}, leaf 7 (id 6): root mismatch" in capsys.readouterr().out

    assert verify(edit(LINES, 3, lambda e: e["body"].update(app="x"))).first_error["id"] is None
