"""JSON-lines logging with rotation and a redaction filter.

Residents' data must never reach a log file.  Every record passes through
:class:`RedactionFilter`, which masks anything shaped like a resident ID
number or a mainland mobile number, bearer tokens, and the names registered
for the current session (``redactor.protect(name)`` when a card is read,
``redactor.clear()`` when the session is wiped).  The filter rewrites the
message *and* its arguments, so ``log.info("read %s", card.name)`` is safe.
"""
from __future__ import annotations

import json
import logging
import logging.handlers
import re
import threading
import time
from pathlib import Path

# 18-character resident ID numbers (last may be X), 15-digit legacy numbers,
# HK/Macau/Taiwan permit numbers share the 18-char shape; foreign permanent
# resident numbers are 15 (2017: 3 letters + 12 digits) or 18 characters.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15}|[A-Z]{3}\d{12})(?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_TOKEN_RE = re.compile(r"(?i)(bearer\s+|token[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9._~+/=-]{8,}")

MASK = "***"


class Redactor:
    """Masks sensitive values; thread-safe, shared by all handlers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()

    def protect(self, *values: str | None) -> None:
        """Mask these exact strings (a resident's name, address) from now on."""
        with self._lock:
            self._names.update(v for v in values if v and len(v.strip()) >= 2)

    def clear(self) -> None:
        with self._lock:
            self._names.clear()

    def __call__(self, text: str) -> str:
        text = _ID_RE.sub(MASK, text)
        text = _PHONE_RE.sub(MASK, text)
        text = _TOKEN_RE.sub(lambda m: m.group(1) + MASK, text)
        with self._lock:
            names = sorted(self._names, key=len, reverse=True)
        for name in names:
            text = text.replace(name, MASK)
        return text


redactor = Redactor()


class RedactionFilter(logging.Filter):
    def __init__(self, redact: Redactor = redactor):
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        record.exc_info = None
        for key, value in list(vars(record).items()):
            if key.startswith("ctx_") and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, plus ``extra={'ctx_x': ...}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
            + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key.startswith("ctx_"):
                entry[key[4:]] = value
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup(log_dir: Path, level: str = "INFO", max_bytes: int = 5_000_000,
          backups: int = 5, console: bool = True) -> Path:
    """Route the root logger to ``log_dir/kiosk.jsonl`` (rotated) and stderr."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "kiosk.jsonl"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_kiosk", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups,
                                             encoding="utf-8")]
    handlers[0].setFormatter(JsonLinesFormatter())
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handlers.append(stream)
    for handler in handlers:
        handler._kiosk = True  # type: ignore[attr-defined]
        handler.addFilter(RedactionFilter())
        root.addHandler(handler)
    root.setLevel(level)
    return path
