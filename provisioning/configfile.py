"""Change a few keys of a kiosk TOML file, keeping its comments and layout.

Enrolment, ``detect --apply``, ``maintenance set-pin`` and the licence-printer
calibration each change a handful of keys in a file a technician may have
annotated; rewriting it from a dict would throw their comments away.  The
result is re-validated against the config schema before anyone writes it, and
written with :func:`common.files.write_atomic` so a power cut leaves the old or
the new file, never half of one.
"""
from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from common.files import write_atomic
from kiosk import config as cfg

_HEADER = re.compile(r"^\s*\[([A-Za-z0-9_.\- ]+)\]\s*(?:#.*)?$")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _value_spans_lines(line: str) -> bool:
    """True when ``key = [`` opens an array that closes on a later line."""
    value = line.split("=", 1)[1].split("#", 1)[0].strip()
    return value.startswith("[") and value.count("[") > value.count("]")


def update_text(text: str, updates: dict[str, dict[str, Any]], source: str = "<config>") -> str:
    """``updates`` maps a table (``"kiosk"``, ``"devices.camera"``) to key → value."""
    lines = text.splitlines()
    pending = {table: dict(values) for table, values in updates.items()}
    out: list[str] = []
    table = ""
    i = 0

    def flush(current: str) -> None:
        # Keys of this table not present in the file go at the end of the table.
        for key, value in pending.pop(current, {}).items():
            while out and not out[-1].strip():
                out.pop()
            out.append(f"{key} = {toml_value(value)}")
            out.append("")

    while i < len(lines):
        line = lines[i]
        header = _HEADER.match(line)
        if header:
            flush(table)
            table = header.group(1).strip()
            out.append(line)
            i += 1
            continue
        key = line.split("=", 1)[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
        if key and key in pending.get(table, {}):
            value = pending[table].pop(key)
            out.append(f"{key} = {toml_value(value)}")
            if _value_spans_lines(line):
                while i + 1 < len(lines) and "]" not in lines[i].split("#", 1)[0]:
                    i += 1
            i += 1
            continue
        out.append(line)
        i += 1
    flush(table)
    for missing_table, values in pending.items():
        if values:
            out.extend(["", f"[{missing_table}]"] + [f"{k} = {toml_value(v)}" for k, v in values.items()])
    result = "\n".join(out).rstrip("\n") + "\n"
    _check(result, updates, source)
    return result


def _check(text: str, updates: dict[str, dict[str, Any]], source: str) -> None:
    """The new text must be a valid kiosk config holding exactly the new values."""
    cfg.parse(text, source)  # raises ConfigError naming the key
    data = tomllib.loads(text)
    for table, values in updates.items():
        node = data
        for part in table.split("."):
            node = node.get(part, {})
        for key, value in values.items():
            if node.get(key) != (list(value) if isinstance(value, tuple) else value):
                raise cfg.ConfigError(f"{source}: could not set {table}.{key} (edit the file by hand)")


def update_file(path: Path, updates: dict[str, dict[str, Any]]) -> None:
    """Apply ``updates`` to the config file at ``path`` (created if missing), atomically."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    new_text = update_text(text, updates, str(path))
    mode, owner = 0o644, None
    if path.exists():
        st = path.stat()
        # Only root can give a file away; anyone else writes it as themselves.
        mode, owner = st.st_mode & 0o7777, ((st.st_uid, st.st_gid) if os.geteuid() == 0 else None)
    write_atomic(path, new_text, mode, owner)
