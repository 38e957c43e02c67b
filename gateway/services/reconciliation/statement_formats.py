"""Provider statement layouts (payments.md, "Reconciliation"): the generic CSV and the column
mappings of the CinetPay and MTN MoMo exports, each read into the same checked `StatementRow`.
Every row is checked first; any bad cell stops the import with `line N: column: reason`."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from gateway.lib.csv_rows import ImportErrors, Problems, RowCheck, check_utf8
from gateway.lib.phones import normalize_msisdn
from gateway.models import LineStatus

FIELDS = (
    "provider_txn_id",
    "reference",
    "msisdn",
    "amount",
    "currency",
    "status",
    "occurred_at",
    "fee",
)
MAX_AMOUNT = 10**12
_WHOLE = re.compile(r"[0-9]+(\.0+)?")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


@dataclass(frozen=True)
class Layout:
    """Our field -> the export's column header, and the export's status words."""

    name: str
    columns: Mapping[str, str]
    statuses: Mapping[str, LineStatus]
    strict: bool = False  # the generic layout refuses unknown columns; exports carry extras


# SUCCESSFUL: the sandbox provider's own word for a success (payments.md, its callback).
GENERIC = Layout(
    "generic",
    {f: f for f in FIELDS},
    {
        "SUCCEEDED": LineStatus.SUCCEEDED,
        "SUCCESSFUL": LineStatus.SUCCEEDED,
        "FAILED": LineStatus.FAILED,
    },
    strict=True,
)
# CinetPay back-office "Transactions" export (French headers). `ID transaction` is the
# transaction_id we gave at initiation (our reference); `ID operateur` is the operator's id
# (operator_id in the check API), which the cinetpay adapter keeps as provider_txn_id.
CINETPAY = Layout(
    "cinetpay",
    {
        "provider_txn_id": "ID operateur",
        "reference": "ID transaction",
        "msisdn": "Telephone",
        "amount": "Montant",
        "currency": "Devise",
        "status": "Statut",
        "occurred_at": "Date paiement",
        "fee": "Frais",
    },
    {"ACCEPTED": LineStatus.SUCCEEDED, "REFUSED": LineStatus.FAILED},
)
# MTN MoMo Partner Portal transaction history: `Id` is the financialTransactionId,
# `External Transaction Id` the externalId we send with request-to-pay (our reference).
MTNMOMO = Layout(
    "mtnmomo",
    {
        "provider_txn_id": "Id",
        "reference": "External Transaction Id",
        "msisdn": "From",
        "amount": "Amount",
        "currency": "Currency",
        "status": "Status",
        "occurred_at": "Date",
        "fee": "Fee",
    },
    {
        "SUCCESSFUL": LineStatus.SUCCEEDED,
        "FAILED": LineStatus.FAILED,
        "REJECTED": LineStatus.FAILED,
    },
)
LAYOUTS = {layout.name: layout for layout in (GENERIC, CINETPAY, MTNMOMO)}


@dataclass(frozen=True)
class StatementRow:
    line: int
    natural_key: str
    provider_txn_id: str | None
    reference: str | None
    msisdn: str | None
    amount: int
    fee: int
    currency: str
    status: LineStatus
    occurred_at: dt.datetime

    @property
    def day(self) -> dt.date:
        return self.occurred_at.date()

    def same_as(self, other: Mapping[str, object]) -> bool:
        return not self.differences(other)

    def differences(self, other: Mapping[str, object]) -> list[str]:
        """`field old -> new` for each detail that differs from `other` (a stored line)."""
        return [
            f"{key} {_shown(other[key])} -> {_shown(getattr(self, key))}"
            for key in COMPARED
            if getattr(self, key) != other[key]
        ]

    def details(self) -> dict[str, object]:
        return {key: getattr(self, key) for key in COMPARED}


# What a line says besides its natural key (and its currency, always XOF).
COMPARED = ("reference", "msisdn", "amount", "fee", "status", "occurred_at")


def _shown(value: object) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Repeat:
    """A line that repeats an earlier line of the same file word for word (the export
    listing one transaction twice): `occurrence` 2 for the second copy, 3 for the third..."""

    row: StatementRow
    first_line: int
    occurrence: int


@dataclass(frozen=True)
class Statement:
    layout: Layout
    rows: list[StatementRow]  # one per natural key, in file order
    repeats: list[Repeat]


def parse_statement(data: bytes, provider: str, country: str) -> Statement:
    """The layout recognised from the header (generic, or the provider's export) and every
    row checked; `ImportErrors` lists each bad line and nothing is kept. A line repeating an
    earlier one exactly is set apart (payments.md: import is idempotent by each line's natural
    key); the same key with other details is a bad line. Holds every row: the import itself
    streams the file (`StatementSource`, statement_scan)."""
    source = StatementSource(data)
    source.check_text()
    problems, rows, repeats = Problems(), [], []
    first: dict[str, StatementRow] = {}
    copies: dict[str, int] = {}
    layout, found = source.rows(provider, country, problems)
    for row in found:
        earlier = first.setdefault(row.natural_key, row)
        if earlier is row:
            rows.append(row)
        elif row.same_as(earlier.details()):
            copies[row.natural_key] = copies.get(row.natural_key, 1) + 1
            repeats.append(Repeat(row, earlier.line, copies[row.natural_key]))
        else:
            problems.add(row.line, *conflict_in_file(layout, row, earlier))
    problems.raise_if_any()
    if not rows:
        raise ImportErrors(["file: no statement line"])
    return Statement(layout, rows, repeats)


def conflict_in_file(layout: Layout, row: StatementRow, earlier: StatementRow) -> tuple[str, str]:
    """(column, reason) of a line whose transaction id an earlier line has with other details.
    Only a transaction id can be shared by lines that differ: a line without one is keyed by
    the hash of all it says."""
    changed = "; ".join(row.differences(earlier.details()))
    return layout.columns["provider_txn_id"], (
        f"{row.provider_txn_id!r} already on line {earlier.line} with other details ({changed})"
    )


class StatementSource:
    """A statement file read as a stream, as many times as needed (issue 15: a file is
    never held whole in memory): the bytes of a small upload, or a path on disk."""

    BLOCK = 1 << 20

    def __init__(self, data: bytes | Path) -> None:
        self.data = data

    def _binary(self) -> BinaryIO:
        if not isinstance(self.data, Path):
            return io.BytesIO(self.data)
        if self.data.stat().st_size <= self.BLOCK:  # a small file is read at once
            return io.BytesIO(self.data.read_bytes())
        return open(self.data, "rb")

    def check_text(self) -> str:
        """The file's sha256, once checked to be UTF-8 text (the byte offset of the first bad
        byte is counted after a byte order mark, as `bytes.decode` counts it)."""
        with self._binary() as stream:
            return check_utf8(stream, "file")

    def rows(
        self, provider: str, country: str, problems: Problems
    ) -> tuple[Layout, Iterator[StatementRow]]:
        """The layout (a bad header raises at once) and the checked rows, one at a time; each
        bad line goes to `problems`. The file must have passed `check_text`."""
        stream = io.TextIOWrapper(self._binary(), encoding="utf-8-sig", newline="")
        reader = csv.reader(stream)
        header = [name.strip() for name in next(reader, [])]
        try:
            layout = _layout(header, provider)
        except ImportErrors:
            stream.close()
            raise
        return layout, self._rows(stream, reader, header, layout, country, problems)

    @staticmethod
    def _rows(
        stream: TextIO,
        reader: Iterator[list[str]],
        header: list[str],
        layout: Layout,
        country: str,
        problems: Problems,
    ) -> Iterator[StatementRow]:
        index = {name: i for i, name in enumerate(header)}
        wanted = [(c, index[c]) for c in layout.columns.values()]
        with stream:
            start = reader.line_num + 1  # type: ignore[attr-defined]
            for cells in reader:
                line, start = start, reader.line_num + 1  # type: ignore[attr-defined]
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) != len(header):
                    problems.add(line, "row", f"{len(cells)} fields, the header has {len(header)}")
                    continue
                values = {c: cells[i].strip() for c, i in wanted}
                row = _row(RowCheck(line, values, problems), layout, country)
                if row is not None:
                    yield row


def _layout(header: list[str], provider: str) -> Layout:
    if set(GENERIC.columns.values()) <= set(header):
        layout = GENERIC
    else:
        layout = LAYOUTS.get(provider, GENERIC)
    missing = [c for c in layout.columns.values() if c not in header]
    unknown = [c for c in header if c not in layout.columns.values()] if layout.strict else []
    problems = Problems()
    if missing:
        problems.add(1, "header", f"missing column(s) {', '.join(missing)} ({layout.name} layout)")
    if unknown:
        problems.add(1, "header", f"unknown column(s) {', '.join(unknown)}")
    if len(set(header)) != len(header):
        problems.add(1, "header", "a column name appears twice")
    problems.raise_if_any()
    return layout


def _row(check: RowCheck, layout: Layout, country: str) -> StatementRow | None:
    """Cells are keyed by the export's column names, so problems name them as the file does."""
    col = layout.columns
    txn = check.take(col["provider_txn_id"], _optional(100))
    reference = check.take(col["reference"], _optional(64))
    msisdn = check.take(col["msisdn"], lambda raw: _msisdn(raw, country))
    amount = check.take(col["amount"], _amount)
    fee = check.take(col["fee"], _fee)
    currency = check.take(col["currency"], _currency)
    status = check.take(col["status"], lambda raw: _status(raw, layout))
    occurred_at = check.take(col["occurred_at"], _occurred_at)
    if isinstance(amount, int) and isinstance(fee, int) and fee > amount:
        check.add(col["fee"], f"fee {fee} is more than the amount {amount}")
    if not check.ok:
        return None
    fields = (txn, reference, msisdn, amount, fee, currency, status, occurred_at)
    return _with_key(StatementRow(check.line, "", *fields))


@functools.lru_cache(maxsize=4096)  # payers recur in a statement; parsing a number is slow
def _msisdn(raw: str, country: str) -> str | None:
    return normalize_msisdn(raw, country) if raw else None


def _with_key(row: StatementRow) -> StatementRow:
    """provider_txn_id when the export has it, else a hash of what the line says."""
    if row.provider_txn_id:
        key = f"txn:{row.provider_txn_id}"
    else:
        canon = "|".join(
            str(v)
            for v in (row.reference, row.msisdn, row.amount, row.fee, row.currency, row.status)
        )
        digest = hashlib.sha256(f"{canon}|{row.occurred_at.isoformat()}".encode()).hexdigest()
        key = f"line:{digest[:40]}"
    return StatementRow(**{**row.__dict__, "natural_key": key})


def _optional(max_len: int) -> Callable[[str], str | None]:
    def parse(raw: str) -> str | None:
        if len(raw) > max_len:
            raise ValueError(f"at most {max_len} characters")
        return raw or None

    return parse


def _amount(raw: str) -> int:
    amount = int(raw.split(".")[0]) if _WHOLE.fullmatch(raw) else 0
    if not 0 < amount <= MAX_AMOUNT:
        raise ValueError(f"must be a whole number of XOF from 1 to {MAX_AMOUNT}, got {raw!r}")
    return amount


def _fee(raw: str) -> int:
    if not raw:
        return 0
    if not _WHOLE.fullmatch(raw):
        raise ValueError(f"must be a whole number of XOF (0 or more), got {raw!r}")
    return int(raw.split(".")[0])


def _currency(raw: str) -> str:
    if raw.upper() != "XOF":
        raise ValueError(f"must be XOF, got {raw!r}")
    return "XOF"


def _status(raw: str, layout: Layout) -> LineStatus:
    found = layout.statuses.get(raw.upper())
    if found is None:
        known = ", ".join(layout.statuses)
        raise ValueError(f"unknown status {raw!r} (final statuses only: {known})")
    return found


def _occurred_at(raw: str) -> dt.datetime:
    """ISO date and time; UTC unless the cell carries an offset (BF, ML, SN are UTC+0)."""
    if not _DATETIME.fullmatch(raw):
        raise ValueError(f"must be a date and time YYYY-MM-DD HH:MM:SS, got {raw!r}")
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"not a calendar date and time: {raw!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
