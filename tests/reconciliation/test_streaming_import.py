"""Issue 15 (point 9, acceptance 5): a statement is imported as a stream, in passes, keeping
only compact state: memory stays bounded whatever the file's size, and the all-or-nothing
contract, the duplicate-line rule and the reports are those of a small file."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.lib.csv_rows import ImportErrors, Problems, check_utf8
from gateway.models import Mutual, StatementFile, StatementLine, StatementRepeat
from gateway.services.reconciliation import statement_import
from gateway.services.reconciliation.statement_formats import StatementSource
from gateway.services.reconciliation.statement_import import import_statement

NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)
HEADER = "provider_txn_id,reference,msisdn,amount,currency,status,occurred_at,fee\n"
ROOT = Path(__file__).resolve().parents[2]
LINES = 100_000
# Peak memory the import may add to the importing process for LINES lines. Reading the file
# whole and holding every row cost 301 MB more than before the import (bench_imports with
# BENCH_AS_BYTES on the code before issue 15, 2026-12-07); streaming costs about 27 MB.
GROWTH_MB = 100


def line(i: int, amount: int = 100) -> str:
    return f"T{i},,+2267{i % 10_000_000:07d},{amount},XOF,SUCCEEDED,2026-11-24 10:00:00,0\n"


def count(db: Session, model: type[object]) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_a_large_statement_imports_in_bounded_memory(tmp_path: Path) -> None:
    """Run in a child process, on its own SQLite file: its resident high-water mark (VmHWM)
    is compared with the one it had before the import."""
    if not Path("/proc/self/status").exists():
        pytest.skip("VmHWM is read from /proc")
    path = tmp_path / "statement.csv"
    code = "from bench.bench_imports import generate_statement as g; import sys, pathlib; "
    code += "g(pathlib.Path(sys.argv[1]), int(sys.argv[2]))"
    subprocess.run([sys.executable, "-c", code, str(path), str(LINES)], check=True, cwd=ROOT)
    url = f"sqlite:///{tmp_path / 'import.db'}"
    command = [sys.executable, "-m", "bench.bench_imports", "--child", "statement", url, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["out"] == f"{LINES - LINES // 1000} added, {LINES // 1000} duplicates"
    growth_mb = (found["peak_kb"] - found["before_kb"]) / 1024
    assert growth_mb < GROWTH_MB, f"the import added {growth_mb:.0f} MB to the process's peak"


def test_a_file_on_disk_over_several_chunks_and_blocks(
    db: Session, mutual: Mutual, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read from disk in small blocks, written in chunks: repeats and lines already imported
    are found across chunk boundaries, and each count is that of the whole file."""
    monkeypatch.setattr(StatementSource, "BLOCK", 64)  # streamed from disk, not read at once
    monkeypatch.setattr(statement_import, "_CHUNK", 7)
    earlier = HEADER + "".join(line(i) for i in range(0, 30, 3))
    import_statement(db, mutual, "sandbox", earlier.encode(), now=NOW)
    path = tmp_path / "s.csv"
    body = [line(i) for i in range(30)] + [line(5), line(29), line(5)]
    path.write_text(HEADER + "".join(body), encoding="utf-8")
    result = import_statement(db, mutual, "sandbox", path, filename="s.csv", now=NOW)
    assert (result.added, result.skipped, result.duplicates) == (20, 10, 3)
    assert count(db, StatementLine) == 30
    R = StatementRepeat
    query = select(R.natural_key, R.occurrence, R.line_no, R.first_line_no).order_by(R.id)
    assert [tuple(r) for r in db.execute(query)] == [
        ("txn:T5", 2, 32, 7),
        ("txn:T29", 2, 33, 31),
        ("txn:T5", 3, 34, 7),
    ]
    again = import_statement(db, mutual, "sandbox", path, now=NOW)
    assert again.already_imported and count(db, StatementLine) == 30


def test_a_conflict_anywhere_imports_nothing(
    db: Session, mutual: Mutual, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statement_import, "_CHUNK", 4)
    import_statement(db, mutual, "sandbox", (HEADER + line(17)).encode(), now=NOW)
    data = HEADER + "".join(line(i) for i in range(20)) + line(3, amount=150)
    with pytest.raises(ImportErrors) as caught:
        import_statement(db, mutual, "sandbox", data.encode(), now=NOW)
    assert caught.value.errors == [
        "line 22: provider_txn_id: 'T3' already on line 5 with other details (amount 100 -> 150)"
    ]
    changed = HEADER + "".join(line(i) for i in range(20)).replace(
        "T17,,+22670000017,100", "T17,,+22670000017,90"
    )
    with pytest.raises(ImportErrors, match="line 19: provider_txn_id: 'T17' already imported"):
        import_statement(db, mutual, "sandbox", changed.encode(), now=NOW)
    assert count(db, StatementLine) == 1 and count(db, StatementFile) == 1


def test_a_huge_bad_file_lists_the_first_problems_and_counts_the_rest(
    db: Session, mutual: Mutual
) -> None:
    data = HEADER + "".join(line(i, amount=0) for i in range(1_005))
    with pytest.raises(ImportErrors) as caught:
        import_statement(db, mutual, "sandbox", data.encode(), now=NOW)
    errors = caught.value.errors
    assert len(errors) == 1_001 and errors[0].startswith("line 2: amount: must be a whole")
    assert errors[-1] == "... and 5 more problem(s)"
    assert str(caught.value).startswith("1005 problem(s), nothing imported")


def test_problems_without_a_cap_keep_everything() -> None:
    problems = Problems()
    for i in range(3):
        problems.add(i + 2, "x", "bad")
    assert problems.total == 3 and problems.more == 0


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ("é".encode() * 40 + b"\xff", 80),  # the bad byte in a later block
        (b"\xef\xbb\xbf" + "é".encode() * 3 + b"\xc3", 6),  # cut short at the end, after a BOM
    ],
)
def test_utf8_is_checked_block_by_block(data: bytes, where: int) -> None:
    """A character split across two blocks is fine; a bad byte is placed as `decode` does."""
    with pytest.raises(UnicodeDecodeError) as direct:
        data.decode("utf-8-sig")
    assert direct.value.start == where
    with pytest.raises(ImportErrors, match=f"byte {where}"):
        check_utf8(io.BytesIO(data), "file", block=7)
    assert len(check_utf8(io.BytesIO("é".encode() * 40), "file", block=7)) == 64
