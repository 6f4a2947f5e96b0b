"""Sealing values at rest with AES-256-GCM: ``nonce || ciphertext+tag``, bound to a context.

One scheme for the kiosk's outbox (offline_queue/crypto.py) and the platform's residents'
fields (central/sealing.py); each owns its keys and says in its own words what a value that
does not open means.  The context (what the value belongs to: an item and part, a table,
column and row) is the GCM associated data, so a value copied elsewhere does not open.
"""
from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class Sealer:
    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, blob: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise self.does_not_open(context) from None

    def does_not_open(self, context: str) -> Exception:
        """The error for a value that is not sealed under this key for ``context``."""
        return ValueError(f"stored {context} does not decrypt with this key")
