"""CSV export of any views answer: the rows exactly as the JSON API gives them, one column per field.

Columns: the key fields first (in the view's key order), then every other field in order of first appearance;
numbers as decimal integers, ``null`` as an empty cell, objects and lists as compact JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return str(value)


def columns(rows: list[dict[str, Any]], first: Iterable[str] = ()) -> list[str]:
    cols: dict[str, None] = dict.fromkeys(c for c in first if any(c in r for r in rows))
    for r in rows:
        for name in r:
            cols.setdefault(name, None)
    return list(cols)


def to_csv(rows: list[dict[str, Any]], first: Iterable[str] = ()) -> str:
    cols = columns(rows, first)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([cell(r.get(c)) for c in cols])
    return "\ufeff" + out.getvalue()  # a BOM, so spreadsheet programs read the Chinese names as UTF-8
