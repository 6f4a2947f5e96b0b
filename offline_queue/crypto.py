"""Encryption at rest for queued personal data (AES-256-GCM).

The key lives in a file outside the database (config ``queue.key_file``,
default ``data_dir/secrets/queue.key``) so a copied database alone reveals
nothing; a key file that other users may read is refused, not used.  Provisioning creates the key on production kiosks; a development
kiosk creates one on first use.  Every ciphertext is bound to what it belongs
to (the item id and the part's name) through the GCM associated data, so a
payload cannot be swapped between rows without the swap being detected.
"""
from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common import sealing as common_sealing
from common.files import fsync_dir, stage

KEY_BYTES = 32


class QueueKeyError(Exception):
    """The queue key is missing or unusable; one line for a technician."""


def key_path(config) -> Path:
    configured = config.queue.key_file
    return config.path(configured) if configured else config.data_dir / "secrets" / "queue.key"


def load_or_create_key(path: Path, create: bool) -> bytes:
    """Read the 32-byte key; create it (mode 0600) only when ``create`` is true."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise QueueKeyError(f"queue key {path} is missing; run provisioning to create it") from None
        return _create_key(path)
    except PermissionError:
        raise QueueKeyError(f"queue key {path} is not readable (permission denied)") from None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise QueueKeyError(f"queue key {path} is readable by other users (mode {mode:04o}): "
                            f"it decrypts every queued application; chmod 600 {path}")
    if len(key) != KEY_BYTES:
        raise QueueKeyError(f"queue key {path} has {len(key)} bytes, expected {KEY_BYTES}")
    return key


def _create_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    tmp = stage(path, key)
    try:
        os.link(tmp, path)  # never replace a key another process created meanwhile
    except FileExistsError:
        return load_or_create_key(path, create=False)
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)
    return key


class Sealer(common_sealing.Sealer):
    """Encrypts and decrypts the outbox's blobs (common/sealing.py's scheme)."""

    def does_not_open(self, context: str) -> Exception:
        return QueueKeyError(f"stored data for {context} does not decrypt with this key")
