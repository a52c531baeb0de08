"""Validate a CRM export (CSV or Parquet): keep the good rows, report every bad one.

Pure: reads the file, returns :class:`ImportBatch` (good rows normalised, bad rows with
their line and reason). Writing is the store's job (``store.identity.apply_import``),
which upserts by the master key ``customer_number`` through survivorship.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from somebound.core.phone import normalise_email, to_e164

FIELDS = (
    "customer_number",
    "display_name",
    "given_name",
    "surname",
    "email",
    "phone",
    "address",
    "postcode",
    "city",
    "birth_date",
    "language",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int  # CSV: physical line in the file (header = 1); Parquet: 1-based row number
    reason: str
    customer_number: str | None = None


@dataclass
class ImportBatch:
    path: str
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (missing key column, unknown format)."""


def _validate(raw: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    row: dict[str, Any] = {}
    for name in FIELDS:
        v = raw.get(name)
        if v is None or (isinstance(v, float) and v != v):
            continue
        text = str(v).strip()
        if text:
            row[name] = text
    number = row.get("customer_number")
    if not number:
        return None, "customer_number is empty (it is the master key)"
    if "email" in row:
        if not _EMAIL.match(row["email"]):
            return None, f"email {row['email']!r} is not an e-mail address"
        row["email"] = normalise_email(row["email"])
    if "phone" in row:
        e164 = to_e164(row["phone"])
        if e164 is None:
            return None, f"phone {row['phone']!r} has too few digits to be a phone number"
        row["phone"] = e164
    if "birth_date" in row:
        text = row["birth_date"]
        try:
            parsed = date.fromisoformat(
                text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:]}"
            )
        except ValueError:
            return None, f"birth_date {text!r} is not a date (use YYYY-MM-DD)"
        if parsed > date.today():
            return None, f"birth_date {text} is in the future"
        row["birth_date"] = parsed.isoformat()
    if "language" in row and not _LANG.match(row["language"]):
        return None, f"language {row['language']!r} is not a language code like 'fi' or 'sv'"
    if "display_name" not in row and ("given_name" in row or "surname" in row):
        row["display_name"] = " ".join(x for x in (row.get("given_name"), row.get("surname")) if x)
    return row, None


def read_customer_file(path: str | Path) -> ImportBatch:
    """Read and validate; duplicate customer numbers in one file are bad rows after the first."""
    p = Path(path)
    if not p.exists():
        raise ImportFileError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        records = _read_csv(p)
    elif suffix in (".parquet", ".pq"):
        records = _read_parquet(p)
    else:
        raise ImportFileError(f"{p}: unknown format {suffix!r}; use .csv or .parquet")
    batch = ImportBatch(path=str(p))
    columns, rows = records
    if "customer_number" not in columns:
        raise ImportFileError(
            f"{p}: no 'customer_number' column (the master key); columns are {columns}"
        )
    batch.ignored_columns = [c for c in columns if c not in FIELDS]
    seen: dict[str, int] = {}
    for line, raw in rows:
        if isinstance(raw, str):  # a structural problem found by the reader
            batch.bad.append(BadRow(line, raw))
            continue
        row, reason = _validate(raw)
        if row is None:
            batch.bad.append(BadRow(line, reason or "invalid", _s(raw.get("customer_number"))))
            continue
        number = row["customer_number"]
        if number in seen:
            batch.bad.append(
                BadRow(line, f"customer_number {number} repeats line {seen[number]}", number)
            )
            continue
        seen[number] = line
        batch.rows.append((line, row))
    return batch


def _s(v: Any) -> str | None:
    return None if v is None else str(v)


def _read_csv(p: Path) -> tuple[list[str], list[tuple[int, dict[str, Any] | str]]]:
    with p.open(newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(fh, dialect)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration as exc:
            raise ImportFileError(f"{p}: empty file") from exc
        out: list[tuple[int, dict[str, Any] | str]] = []
        line = reader.line_num
        for values in reader:
            start = line + 1
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                out.append((start, f"has {len(values)} fields, the header has {len(header)}"))
                continue
            out.append((start, dict(zip(header, values, strict=True))))
        return header, out


def _read_parquet(p: Path) -> tuple[list[str], list[tuple[int, dict[str, Any] | str]]]:
    import pyarrow.parquet as pq

    table = pq.read_table(p)
    rows = table.to_pylist()
    return table.column_names, [(i + 1, r) for i, r in enumerate(rows)]
