"""Signed bundles: every attack is rejected and the kiosk keeps the menu it had."""
from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.events import EventBus
from kiosk import config as cfg
from kiosk.menu_bundle import (BundleError, canonical_payload, json_depth_exceeds, key_id, public_raw,
                               sign_payload, verify_bundle)
from kiosk.menu_store import MenuStore

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets" / "menus" / "sample.json"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.timezone.utc)


def pub_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(public_raw(key.public_key())).decode()


def menu_doc(version: int = 1, region: str = "440304", expires: str = "2027-11-01T00:00:00+08:00") -> dict:
    doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    doc.update(version=version, region=region, expires=expires)
    return doc


def bundle(key: Ed25519PrivateKey, **kw) -> bytes:
    return sign_payload(canonical_payload(menu_doc(**kw)), key)


@pytest.fixture
def keys():
    return Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


@pytest.fixture
def store(tmp_path, keys):
    """A store pinning one key, with version 2 installed and active."""
    text = (f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n'
            f'[menu]\npubkeys = ["{pub_b64(keys[0])}"]\nbundle = "{tmp_path / "no-seed.bundle"}"\n'
            f'max_bundle_bytes = 400000\n')
    config = cfg.parse(text, source="test.toml")
    store = MenuStore(config, EventBus(), now=lambda: NOW)
    store.load()
    assert store.offer(bundle(keys[0], version=2)) == "installed"
    return store


def tamper(data: bytes) -> bytes:
    """Flip one bit of one byte in the middle of the signed payload."""
    changed = bytearray(data)
    changed[len(data) - 5000] ^= 0x01
    return bytes(changed)


def nested(depth: int) -> bytes:
    return b'{"schema":"kiosk-menu/1","x":' + b"[" * depth + b"]" * depth + b"}"


ATTACKS = {
    "tampered byte": ("bad_signature", lambda k: tamper(bundle(k[0], version=3))),
    "re-signed by another key": ("unknown_key", lambda k: bundle(k[1], version=3)),
    "signature of another key under ours": ("bad_signature", lambda k: _swap_key_id(bundle(k[1], version=3), k[0])),
    "replayed older version": ("rollback", lambda k: bundle(k[0], version=1)),
    "same version, other content": ("rollback", lambda k: _other_content(k[0], version=2)),
    "expired": ("expired", lambda k: bundle(k[0], version=3, expires="2026-11-01T00:00:00+08:00")),
    "wrong region": ("wrong_region", lambda k: bundle(k[0], version=3, region="350103")),
    "huge": ("oversize", lambda k: b" " * 400_001),
    "deeply nested payload": ("too_deep", lambda k: sign_payload(nested(100_000), k[0])),
    "nested header": ("too_deep", lambda k: b"kiosk-menu-bundle/1\n" + nested(50) + b"\n{}"),
    "header too long": ("malformed", lambda k: b"kiosk-menu-bundle/1\n" + b" " * 5000 + b"\n{}"),
    "malformed": ("malformed", lambda k: b"\x00\xffnot a bundle"),
    "signed but not a menu": ("invalid", lambda k: sign_payload(b'{"schema":"kiosk-menu/1","version":9}', k[0])),
    "signed garbage": ("malformed", lambda k: sign_payload(b"\xff\xfe{", k[0])),
}


def _swap_key_id(data: bytes, ours: Ed25519PrivateKey) -> bytes:
    """Claim our key id for a signature made by another key."""
    prefix, header, payload = data.split(b"\n", 2)
    fields = json.loads(header)
    fields["key_id"] = key_id(public_raw(ours.public_key()))
    return prefix + b"\n" + json.dumps(fields).encode() + b"\n" + payload


def _other_content(key, version):
    doc = menu_doc(version=version)
    doc["categories"][0]["services"].pop()
    return sign_payload(canonical_payload(doc), key)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attack_is_rejected_and_the_installed_menu_stays(store, keys, attack):
    code, make = ATTACKS[attack]
    current = store.dir / "current.bundle"
    before_bytes, before_menu = current.read_bytes(), store.menu
    with pytest.raises(BundleError) as exc:
        store.offer(make(keys))
    assert exc.value.code == code, str(exc.value)
    assert store.menu is before_menu and store.menu.version == 2
    assert current.read_bytes() == before_bytes
    assert store.last_rejection.code == code
    # and a restart still comes up on the good menu
    store.menu = None
    assert store.load().version == 2


def test_two_pinned_keys_allow_rotation(tmp_path, keys):
    text = (f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n'
            f'[menu]\npubkeys = ["{pub_b64(keys[0])}", "{pub_b64(keys[1])}"]\n'
            f'bundle = "{tmp_path / "none.bundle"}"\n')
    store = MenuStore(cfg.parse(text), EventBus(), now=lambda: NOW)
    store.load()
    assert store.offer(bundle(keys[0], version=1)) == "installed"
    assert store.offer(bundle(keys[1], version=2)) == "installed"
    assert store.menu.version == 2


def test_depth_scan_ignores_brackets_inside_strings():
    assert not json_depth_exceeds(b'{"a": "[[[[[[{{{{{\\"[[[["}', 1)
    assert json_depth_exceeds(b'{"a": [[1]]}', 2)
    assert not json_depth_exceeds(b'{"a": [[1]]}', 3)
    assert json_depth_exceeds(b"[" * 10_000, 16)


def test_the_sample_bundle_verifies_with_the_dev_key():
    config = cfg.parse("")
    verified = verify_bundle((ROOT / config.menu.bundle).read_bytes(), config.menu.pubkeys,
                             config.kiosk.region, now=NOW)
    assert verified.menu.version >= 1
    assert verified.payload_sha256 and verified.key_id == key_id(base64.b64decode(config.menu.pubkeys[0]))
    # the shipped bundle carries exactly the shipped sample menu
    assert verified.menu.model_dump(mode="json", by_alias=True, exclude_unset=True) == \
        json.loads(SAMPLE.read_text(encoding="utf-8"))


def test_same_bundle_again_is_unchanged_not_a_rollback(store, keys):
    data = bundle(keys[0], version=2)
    assert store.offer(data) == "unchanged"


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_tricky_text = st.text(alphabet=st.sampled_from(list('[]{}"\\/bfnrtu \n\t敬老x\u005b')), max_size=12)
_json_values = st.recursive(st.none() | st.integers() | _tricky_text,
                            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_tricky_text, inner, max_size=4),
                            max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(value=_json_values, limit=st.integers(min_value=0, max_value=8), ascii_only=st.booleans())
def test_depth_scan_agrees_with_the_parsed_depth(value, limit, ascii_only):
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_depth_exceeds(data, limit) == (_depth(value) > limit)
