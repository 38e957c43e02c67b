"""Per-file coverage rule of `make coverage`.

Reads coverage.py's JSON report and checks every production file (gateway/ and worker/ on disk):
each must reach the threshold (percent of its statements run by the suite), except the files
named in the exempt list. The list may only shrink: an exempt file that now reaches the
threshold, or that no longer exists, is an error too, so that it is taken off the list.

    python scripts/check_coverage.py --min 80 coverage.json [--exempt coverage-exempt.txt]

The exempt list holds one file per line, its path then a one-line reason:

    gateway/cli/serve_commands.py  starts gunicorn and the embedded Redis; run by hand

Blank lines and lines starting with `#` are ignored. Exit 0 when the rule holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "worker")


@dataclass(frozen=True)
class Measure:
    statements: int
    covered: int

    @property
    def percent(self) -> float:
        return 100.0 if self.statements == 0 else 100.0 * self.covered / self.statements


def production_files(root: Path) -> list[str]:
    return sorted(
        path.relative_to(root).as_posix()
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
    )


def read_report(report: Path, root: Path) -> dict[str, Measure]:
    data = json.loads(report.read_text())
    measures: dict[str, Measure] = {}
    for name, entry in data["files"].items():
        path = Path(name)
        if path.is_absolute():
            try:
                path = path.relative_to(root)
            except ValueError:
                continue
        summary = entry["summary"]
        measures[path.as_posix()] = Measure(
            statements=int(summary["num_statements"]), covered=int(summary["covered_lines"])
        )
    return measures


def read_exempt(exempt: Path) -> tuple[dict[str, str], list[str]]:
    """The exempt files with their reasons, and the problems of the list itself."""
    entries: dict[str, str] = {}
    problems: list[str] = []
    if not exempt.exists():
        return entries, problems
    for number, raw in enumerate(exempt.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        path, _, reason = line.replace("\t", " ").partition(" ")
        where = f"{exempt.name}:{number}"
        if not reason.strip():
            problems.append(f"{where}: {path} has no reason (path, a space, then why)")
        if path in entries:
            problems.append(f"{where}: {path} is listed twice")
        entries[path] = reason.strip()
    return entries, problems


def check(
    measures: dict[str, Measure], files: list[str], exempt: dict[str, str], minimum: float
) -> list[str]:
    problems: list[str] = []
    on_disk = set(files)
    for path in files:
        # A file the suite never imported is absent from the report: nothing of it ran.
        measure = measures.get(path)
        percent = measure.percent if measure is not None else 0.0
        if path in exempt:
            if percent >= minimum:
                problems.append(
                    f"{path}: {percent:.1f}% now reaches {minimum:g}%: take it off the exempt list"
                )
        elif measure is None:
            problems.append(f"{path}: not in the report (never imported, or outside a package)")
        elif percent < minimum:
            problems.append(f"{path}: {percent:.1f}% is under {minimum:g}%")
    for path in sorted(set(exempt) - on_disk):
        problems.append(f"{path}: exempt but no longer exists: take it off the exempt list")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Per-file coverage rule of `make coverage`.")
    parser.add_argument("report", type=Path, help="coverage.py's JSON report (coverage json)")
    parser.add_argument("--min", type=float, default=80.0, help="threshold in percent")
    parser.add_argument("--exempt", type=Path, default=ROOT / "coverage-exempt.txt")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    root = args.root.resolve()
    files = production_files(root)
    measures = read_report(args.report, root)
    if not any(path in measures for path in files):
        print(f"{args.report}: no file of {', '.join(PACKAGES)} measured", file=sys.stderr)
        return 1
    exempt, problems = read_exempt(args.exempt)
    problems += check(measures, files, exempt, args.min)
    if problems:
        print(f"coverage rule ({args.min:g}% per file, {args.exempt.name}):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(
        f"coverage rule holds: {len(files) - len(exempt)} files at {args.min:g}% or more, "
        f"{len(exempt)} exempt"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
