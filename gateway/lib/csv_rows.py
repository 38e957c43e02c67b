"""What the CSV imports (members, payments) share: reading a file into numbered rows, the
`line N: column: reason` problems, and the cell parsers, so that both report alike."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_PROBLEMS = 1_000  # problems listed; the rest of a huge bad file is counted

Source = str | Path | TextIO
Cells = dict[str, str]


class ImportErrors(ValueError):
    """Every bad line of a file (`line N: column: reason`); nothing was imported."""

    def __init__(self, errors: list[str], total: int | None = None) -> None:
        self.errors = errors
        count = len(errors) if total is None else total
        super().__init__(f"{count} problem(s), nothing imported:\n" + "\n".join(errors))


class Problems(list[str]):
    """`line N: column: reason` lines, sorted by line when reported. With a `cap`, only the
    first `cap` problems are kept and the rest counted, so that a huge bad file reports in
    bounded memory (issue 15)."""

    def __init__(self, items: Iterable[str] = (), *, cap: int | None = None) -> None:
        super().__init__(items)
        self.cap = cap
        self.more = 0  # problems found beyond the cap

    def add(self, line: int, column: str, reason: str) -> None:
        if self.cap is not None and len(self) >= self.cap:
            self.more += 1
            return
        self.append(f"line {line}: {column}: {reason}")

    def by_line(self) -> list[str]:
        found = sorted(self, key=lambda text: int(text.split(":", 1)[0].removeprefix("line ")))
        if self.more:
            found.append(f"... and {self.more} more problem(s)")
        return found

    @property
    def total(self) -> int:
        return len(self) + self.more

    def raise_if_any(self) -> None:
        if self:
            raise ImportErrors(self.by_line(), self.total)


class RowCheck:
    """One data row being checked: each cell parser's `ValueError` becomes a problem of its
    column, so that a row reports all its bad cells at once."""

    __slots__ = ("_before", "cells", "line", "problems")

    def __init__(self, line: int, cells: Cells, problems: Problems) -> None:
        self.line, self.cells, self.problems = line, cells, problems
        self._before = problems.total

    def take(self, column: str, parse: Callable[[str], Any]) -> Any:
        """The parsed cell, or None when it is reported."""
        try:
            return parse(self.cells[column])
        except ValueError as exc:
            self.problems.add(self.line, column, str(exc))
            return None

    def add(self, column: str, reason: str) -> None:
        self.problems.add(self.line, column, reason)

    @property
    def ok(self) -> bool:
        """No problem added for this row (those beyond a `Problems` cap count too)."""
        return self.problems.total == self._before


class FirstLines(dict[str, int]):
    """A column whose values must not repeat in a file: value -> first line it is on."""

    def check(self, line: int, column: str, value: str, problems: Problems) -> None:
        if value in self:
            problems.add(line, column, f"{value!r} already on line {self[value]}")
        self.setdefault(value, line)


def read_rows(source: Source, columns: tuple[str, ...]) -> list[tuple[int, Cells]]:
    """`iter_rows` as a list (for small files)."""
    return list(iter_rows(source, columns))


def iter_rows(source: Source, columns: tuple[str, ...]) -> Iterator[tuple[int, Cells]]:
    """(line, cells) per data row, numbered as in the file (header = 1; a quoted field over
    several lines counts from its first). Header and row-shape problems stop the import before
    any row is given. The file is read as a stream, twice (issue 15: never whole in memory)."""
    shape = Problems(cap=MAX_PROBLEMS)
    for _ in _rows(source, columns, shape):
        pass
    shape.raise_if_any()
    return (row for row in _rows(source, columns, Problems()))


def check_utf8(stream: BinaryIO, name: str, block: int = 1 << 20) -> str:
    """The stream's sha256, once checked to be UTF-8 text block by block; a bad byte is
    reported at its offset counted after a byte order mark, as `bytes.decode` counts it."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, first = 0, True  # offset: bytes given to the decoder before this block
    while data := stream.read(block):
        digest.update(data)
        if first and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        first = False
        pending = len(decoder.getstate()[0])  # an unfinished character from the last block
        try:
            decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise ImportErrors(
                [f"{name}: not UTF-8 text (byte {offset - pending + exc.start})"]
            ) from exc
        offset += len(data)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        start = offset - len(decoder.getstate()[0]) + exc.start
        raise ImportErrors([f"{name}: not UTF-8 text (byte {start})"]) from exc
    return digest.hexdigest()


def _open(source: Source) -> tuple[TextIO, bool]:
    """A text stream of the source, and whether it is ours to close."""
    if isinstance(source, Path):
        with source.open("rb") as binary:
            check_utf8(binary, source.name)
        return source.open(encoding="utf-8-sig", newline=""), True
    if isinstance(source, str):
        return io.StringIO(source, newline=""), True
    if source.seekable():
        return source, False
    return io.StringIO(source.read(), newline=""), True  # read once; not re-readable


def _rows(
    source: Source, columns: tuple[str, ...], problems: Problems
) -> Iterator[tuple[int, Cells]]:
    stream, owned = _open(source)
    start_at = stream.tell() if not owned else 0
    try:
        reader = csv.reader(stream)
        header = [name.strip().removeprefix("\ufeff") for name in next(reader, [])]
        header_problems = Problems()
        if missing := [c for c in columns if c not in header]:
            header_problems.add(1, "header", f"missing column(s) {', '.join(missing)}")
        if unknown := [c for c in header if c not in columns]:
            header_problems.add(1, "header", f"unknown column(s) {', '.join(unknown)}")
        header_problems.raise_if_any()
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                problems.add(line, "row", f"{len(cells)} fields, the header has {len(header)}")
                continue
            yield line, {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
    finally:
        if owned:
            stream.close()
        else:
            stream.seek(start_at)


def iso_date(raw: str) -> dt.date:
    """ISO `YYYY-MM-DD` only: a register's `01/02/2026` is ambiguous, so it is refused."""
    if not ISO_DATE.fullmatch(raw):
        raise ValueError(f"must be a date YYYY-MM-DD, got {raw!r}")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"not a calendar date: {raw!r}") from None


def parse_date(raw: str, cache: dict[str, dt.date]) -> dt.date:
    """`iso_date`, remembered: a register repeats the same few days on many rows."""
    day = cache.get(raw)
    if day is None:
        day = cache[raw] = iso_date(raw)
    return day


def required(value: str) -> str:
    if not value:
        raise ValueError("required")
    return value


def text(max_len: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not value or len(value) > max_len:
            raise ValueError(f"required, at most {max_len} characters")
        return value

    return parse


def choice(
    options: tuple[str, ...], default: str | None = None, *, ignore_case: bool = True
) -> Callable[[str], str]:
    """A choice returning the canonical spelling (any case unless `ignore_case` is False);
    empty gives the default when there is one."""
    canonical = {(option.lower() if ignore_case else option): option for option in options}

    def parse(value: str) -> str:
        if not value and default is not None:
            return default
        found = canonical.get(value.lower() if ignore_case else value)
        if found is None:
            raise ValueError(f"must be one of {', '.join(options)}, got {value!r}")
        return found

    return parse
