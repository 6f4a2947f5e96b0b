"""The technician PIN that guards maintenance mode.

Stored only as an scrypt hash string in ``maintenance.pin_hash``
(``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``): a kiosk's config can be
read by anyone who opens the cabinet, and a PIN is short, so the KDF must be
slow.  Five wrong tries lock entry for five minutes; the counter lives in
``data_dir/maintenance/pin_state.json`` so pulling the plug does not reset it.
Every attempt is logged -- never the PIN itself.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from common.files import write_atomic

log = logging.getLogger(__name__)

SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 15, 8, 1     # ~32 MiB, ~0.1 s per try here
MAX_FAILURES = 5
LOCKOUT_S = 300.0
PIN_DIGITS = (6, 12)


class PinFormatError(ValueError):
    """The PIN chosen at set-pin time is not acceptable."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(pin: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=2 * 128 * n * r * p)


def hash_pin(pin: str) -> str:
    low, high = PIN_DIGITS
    if not (pin.isdigit() and pin.isascii() and low <= len(pin) <= high):
        raise PinFormatError(f"the PIN must be {low} to {high} digits")
    if len(set(pin)) == 1 or pin in "01234567890123456789" or pin in "98765432109876543210":
        raise PinFormatError("the PIN must not be one repeated digit or a run like 123456")
    salt = os.urandom(16)
    digest = _scrypt(pin, salt, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_LOG2_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(pin, base64.b64decode(salt, validate=True), int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        log.error("maintenance.pin_hash is malformed; set it again with kioskctl maintenance set-pin")
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class PinResult:
    outcome: str                 # "ok" | "wrong" | "locked" | "not_set"
    tries_left: int = 0          # after a wrong PIN
    locked_for_s: float = 0.0    # while locked

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


class PinGate:
    """Checks PINs and enforces the lockout; safe to call from a worker thread."""

    def __init__(self, pin_hash: str, state_path: Path, clock=time.time,
                 max_failures: int = MAX_FAILURES, lockout_s: float = LOCKOUT_S):
        self.pin_hash = pin_hash
        self.state_path = state_path
        self.clock = clock          # wall clock: the lockout must survive a reboot
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config, **kwargs) -> "PinGate":
        return cls(config.maintenance.pin_hash, config.data_dir / "maintenance" / "pin_state.json", **kwargs)

    def _load(self) -> dict:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            return {"failures": int(state.get("failures", 0)), "locked_until": float(state.get("locked_until", 0))}
        except FileNotFoundError:
            return {"failures": 0, "locked_until": 0.0}
        except (ValueError, TypeError, AttributeError, OSError):
            # A damaged state file must not become a way round the lockout.
            log.warning("maintenance PIN state %s unreadable; treating entry as locked", self.state_path)
            return {"failures": self.max_failures, "locked_until": self.clock() + self.lockout_s}

    def _save(self, state: dict) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.state_path, json.dumps(state))

    def locked_for(self) -> float:
        """Seconds until PIN entry opens again (0 when it is open)."""
        with self._lock:
            return max(0.0, self._load()["locked_until"] - self.clock())

    def check(self, pin: str) -> PinResult:
        with self._lock:
            if not self.pin_hash:
                log.warning("maintenance entry refused: no PIN set (kioskctl maintenance set-pin)")
                return PinResult("not_set")
            state = self._load()
            now = self.clock()
            if state["locked_until"] > now:
                left = state["locked_until"] - now
                log.warning("maintenance PIN attempt while locked (%.0f s left)", left)
                return PinResult("locked", locked_for_s=left)
            if state["locked_until"]:
                state = {"failures": 0, "locked_until": 0.0}   # the lockout has run out
            if verify_pin(pin, self.pin_hash):
                self._save({"failures": 0, "locked_until": 0.0})
                log.info("maintenance mode entered with the technician PIN")
                return PinResult("ok")
            state["failures"] += 1
            if state["failures"] >= self.max_failures:
                state["locked_until"] = now + self.lockout_s
                self._save(state)
                log.warning("maintenance PIN wrong %d times; entry locked for %.0f s",
                            state["failures"], self.lockout_s)
                return PinResult("locked", locked_for_s=self.lockout_s)
            self._save(state)
            left = self.max_failures - state["failures"]
            log.warning("maintenance PIN wrong (%d of %d tries)", state["failures"], self.max_failures)
            return PinResult("wrong", tries_left=left)
