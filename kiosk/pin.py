"""The technician PIN that guards maintenance mode.

Stored only as an scrypt hash string in ``maintenance.pin_hash``
(``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``): a kiosk's config can be
read by anyone who opens the cabinet, and a PIN is short, so the KDF must be
slow.  Five wrong tries lock entry for a minute, each further lockout twice as
long (capped at a day) until the right PIN is entered; the state lives in
``data_dir/maintenance/pin_state.json`` (the app's own file: the config is
read-only to it) so pulling the plug does not reset it.  Every attempt is
logged and the wrong ones are counted in the heartbeat -- never the PIN itself.
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
LOCKOUT_S = 60.0                 # the first lockout; each further one doubles
MAX_LOCKOUT_S = 86400.0
PIN_DIGITS = (6, 12)


OPEN = {"failures": 0, "locked_until": 0.0, "lockouts": 0, "wrong": 0}


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

    MAX_LOCKOUT_S = MAX_LOCKOUT_S

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
        """``failures`` in this round, ``locked_until``, ``lockouts`` and ``wrong`` (wrong PINs)
        since the last right PIN."""
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            failures = int(state.get("failures", 0))
            return {"failures": failures, "locked_until": float(state.get("locked_until", 0)),
                    "lockouts": int(state.get("lockouts", 0)), "wrong": int(state.get("wrong", failures))}
        except FileNotFoundError:
            return dict(OPEN)
        except (ValueError, TypeError, AttributeError, OSError):
            # A damaged state file must not become a way round the lockout.
            log.warning("maintenance PIN state %s unreadable; treating entry as locked", self.state_path)
            return {"failures": self.max_failures, "locked_until": self.clock() + self.lockout_s,
                    "lockouts": 1, "wrong": self.max_failures}

    def _save(self, state: dict) -> None:
        write_atomic(self.state_path, json.dumps(state))

    def failed_attempts(self) -> int:
        """Wrong PINs since the last right one (the heartbeat reports this count)."""
        with self._lock:
            return self._load()["wrong"]

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
                state.update(failures=0, locked_until=0.0)   # the lockout has run out, not its memory
            if verify_pin(pin, self.pin_hash):
                self._save(dict(OPEN))
                log.info("maintenance mode entered with the technician PIN")
                return PinResult("ok")
            state["failures"] += 1
            state["wrong"] += 1
            if state["failures"] >= self.max_failures:
                lockout = min(self.MAX_LOCKOUT_S, self.lockout_s * 2 ** min(state["lockouts"], 32))
                state["lockouts"] += 1
                state["locked_until"] = now + lockout
                self._save(state)
                log.warning("maintenance PIN wrong %d times; entry locked for %.0f s (lockout %d)",
                            state["failures"], lockout, state["lockouts"])
                return PinResult("locked", locked_for_s=lockout)
            self._save(state)
            left = self.max_failures - state["failures"]
            log.warning("maintenance PIN wrong (%d of %d tries)", state["failures"], self.max_failures)
            return PinResult("wrong", tries_left=left)
