"""Residents' records at rest: which columns are sealed, and reading/writing them as plain dicts.

Only what each use needs is stored.  The resident is found by ``resident_key`` (an HMAC of the
ID number with the pepper, :mod:`central.sealing`); the applicant record keeps the name, the
card type and the masked number a licence prints -- never the birth date, which beside the
masked digits (first 6 + last 4) is the whole ID number, nor the card's address.  The fields
in :data:`SEALED` are sealed with the data key, bound to their table, column and row.  An
erased value (retention, :mod:`central.retention`) is stored as ``''`` and reads as empty.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from central.sealing import Sealer
from kiosk.privacy import mask_id_number  # documents show ID numbers as the kiosk prints them

APPLICANT_FIELDS = ("name", "card_type")  # kept of the card, besides the masked number


@dataclass(frozen=True)
class SealedTable:
    key: tuple[str, ...]          # the columns naming a row (bound into each sealed value)
    columns: dict[str, str]       # sealed column -> "json" | "text" | "bytes"


SEALED: dict[str, SealedTable] = {
    "applications": SealedTable(("application_no",), {"applicant": "json", "form": "json", "delivery": "json"}),
    "documents": SealedTable(("document_id",), {"data": "json"}),
    "material_pages": SealedTable(("material_id", "page_no"), {"content": "bytes"}),
    "appeals": SealedTable(("appeal_no",), {"text": "text", "contact_phone": "text"}),
    "ratings": SealedTable(("rating_id",), {"comment": "text"}),
}
EMPTY = {"json": dict, "text": str, "bytes": bytes}  # what an erased value reads as (a new one each time)


def applicant_record(applicant: dict) -> dict:
    """What is kept of the applicant's card: name, card type, masked ID number."""
    kept = {name: applicant[name] for name in APPLICANT_FIELDS if applicant.get(name) is not None}
    kept["id_number_masked"] = mask_id_number(applicant["id_number"])
    return kept


def _context(table: str, column: str, key: tuple) -> str:
    return f"{table}.{column}/" + "/".join(str(part) for part in key)


def seal_value(sealer: Sealer, table: str, column: str, key: tuple, value: Any) -> str | bytes | None:
    """A column's value as stored; None stays NULL (e.g. an appeal without a phone)."""
    if value is None:
        return None
    codec = SEALED[table].columns[column]
    if codec == "json":
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    elif codec == "text":
        plain = value.encode("utf-8")
    else:
        plain = bytes(value)
    sealed = sealer.seal(plain, _context(table, column, key))
    return sealed if codec == "bytes" else base64.b64encode(sealed).decode("ascii")


def open_value(sealer: Sealer, table: str, column: str, key: tuple, stored: str | bytes | None) -> Any:
    if stored is None:
        return None
    codec = SEALED[table].columns[column]
    if len(stored) == 0:  # erased
        return EMPTY[codec]()
    blob = bytes(stored) if codec == "bytes" else base64.b64decode(stored)
    plain = sealer.open(blob, _context(table, column, key))
    if codec == "json":
        return json.loads(plain)
    return plain.decode("utf-8") if codec == "text" else plain


class ResidentRecords:
    """Store methods for tables holding residents' data: callers pass and get plain values;
    sealing happens here.  Needs ``self._sealer`` and the statement methods of the Store."""

    _sealer: Sealer

    def insert(self, table: str, values: dict[str, Any]) -> None:
        """INSERT one row, sealing the table's sealed columns.  Call inside :meth:`write`."""
        self.execute(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                     tuple(self.sealed_row(table, values).values()))

    def sealed_row(self, table: str, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` as stored: sealed columns sealed (the row's key columns must be present)."""
        spec = SEALED.get(table)
        if spec is None:
            return dict(values)
        key = tuple(values[name] for name in spec.key)
        return {name: seal_value(self._sealer, table, name, key, value) if name in spec.columns else value
                for name, value in values.items()}

    def opened(self, table: str, row: dict | None) -> dict | None:
        """A row read from ``table`` with its sealed columns opened (those it holds)."""
        spec = SEALED.get(table)
        if row is None or spec is None:
            return row
        key = tuple(row[name] for name in spec.key)
        return {name: open_value(self._sealer, table, name, key, value) if name in spec.columns else value
                for name, value in row.items()}

    def record(self, table: str, key: Any, lock: bool = False) -> dict | None:
        """One row of a sealed table by its key (a value, or a tuple for a composite key), opened.
        ``lock``: inside a write that changes the row (PostgreSQL: FOR UPDATE)."""
        names = SEALED[table].key
        values = key if isinstance(key, tuple) else (key,)
        sql = f"SELECT * FROM {table} WHERE " + " AND ".join(f"{name} = ?" for name in names)
        row = self.one_for_update(sql, values) if lock else self.one(sql, values)
        return self.opened(table, row)
