"""`gateway indicators` (interfaces.md, D22): prints what the job stored, as text or the
documented JSON; clear one-line errors on bad arguments; `target` and `recompute`."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.models import IndicatorDirty, IndicatorTarget
from tests.support.indicators import build


def _run(cli_env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["indicators", *args], env=cli_env)
    return result.exit_code, result.output


def test_print_a_section_and_a_union_after_recompute(db: Session, cli_env: dict[str, str]) -> None:
    build(db)
    db.commit()
    code, out = _run(cli_env, "--mutual", "MA", "--period", "2025")
    assert code == 0 and "no indicators computed" in out
    code, out = _run(cli_env, "recompute", "--since", "2024-01-01")
    assert code == 0 and "for 2 mutual(s)" in out
    code, out = _run(cli_env, "--mutual", "MA", "--period", "2025", "--section", "Nord", "--json")
    doc = json.loads(out)
    assert doc["scope"] == {"mutual": "MA", "section": "Nord"} and doc["period"] == "2025"
    found = {f["code"]: f for f in doc["indicators"] if "key" not in f}
    assert found["PAID_UP"] == {"code": "PAID_UP", "numerator": 3, "denominator": 3, "value": 1.0}
    assert found["HH"]["value"] == 3.0 and found["M.1"]["value"] == 0.5
    code, out = _run(cli_env, "--union", "UNI", "--period", "2025")
    assert code == 0 and "union UNI, period 2025" in out
    assert any(line.startswith("M.6 ") and line.endswith("0.8889") for line in out.splitlines())
    code, out = _run(cli_env, "--union", "UNI", "--period", "2025", "--json")
    assert json.loads(out)["scope"] == {"union": "UNI"}
    code, out = _run(cli_env, "recompute", "--mutual", "MB")
    assert code == 0 and "for 1 mutual(s)" in out


def test_bad_arguments_say_what_is_wrong(db: Session, cli_env: dict[str, str]) -> None:
    build(db)
    db.commit()
    cases = [
        (["--period", "2025"], "exactly one of --mutual"),
        (["--mutual", "MA", "--union", "UNI", "--period", "2025"], "exactly one of --mutual"),
        (["--mutual", "MA"], "--period YYYY or YYYY-MM is required"),
        (["--mutual", "MA", "--period", "25"], "must be YYYY or YYYY-MM"),
        (["--mutual", "MA", "--period", "2025-13"], "the month must be 01 to 12"),
        (["--union", "UNI", "--period", "2025", "--section", "Nord"], "--section needs --mutual"),
        (["--mutual", "ZZ", "--period", "2025"], "unknown mutual 'ZZ'"),
        (["--union", "ZZ", "--period", "2025"], "no union with code 'ZZ'"),
        (["--mutual", "MA", "--period", "2025", "--section", "X"], "has no section 'X'"),
        (["recompute", "--since", "yesterday"], "a date YYYY-MM-DD"),
    ]
    for args, message in cases:
        code, out = _run(cli_env, *args)
        assert code != 0 and message in out, (args, out)


def test_target_records_and_marks_the_year(db: Session, cli_env: dict[str, str]) -> None:
    build(db)
    db.commit()
    args = ["target", "--mutual", "MA", "--section", "Sud", "--year", "2025"]
    code, out = _run(cli_env, *args, "--population", "40")
    assert code == 0 and "target MA/Sud 2025: 40 (new)" in out
    code, out = _run(cli_env, *args, "--population", "45")
    assert code == 0 and "(was 40)" in out
    db.rollback()
    assert db.scalars(select(IndicatorTarget.population)).all() == [45]
    assert db.scalars(select(IndicatorDirty.since).order_by(IndicatorDirty.id.desc())).first()
    db.rollback()
    for population, message in (("0", "must be a positive"), ("x", "is not a valid integer")):
        code, out = _run(cli_env, *args, "--population", population)
        assert code != 0 and message in out
    code, out = _run(
        cli_env,
        "target",
        "--mutual",
        "MA",
        "--section",
        "Sud",
        "--year",
        "1800",
        "--population",
        "3",
    )
    assert code != 0 and "between 1990 and 2100" in out
    code, out = _run(
        cli_env,
        "target",
        "--mutual",
        "MA",
        "--section",
        "Nope",
        "--year",
        "2025",
        "--population",
        "3",
    )
    assert code != 0 and "has no section 'Nope'" in out
