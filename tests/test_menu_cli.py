"""``kioskctl menu lint|keygen|sign|verify`` run as a technician would: in a subprocess."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets" / "menus" / "sample.json"


def kioskctl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("KIOSK_CONFIG", None)
    entry = "import sys; from kiosk.cli import main; sys.exit(main())"  # what the kioskctl script runs
    return subprocess.run([sys.executable, "-c", entry, *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=60)


def write_menu(path: Path, **changes) -> Path:
    doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    doc.update(changes)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_lint_clean_and_with_findings(tmp_path):
    clean = kioskctl("menu", "lint", str(SAMPLE))
    assert clean.returncode == 0 and clean.stdout == ""
    doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    doc["categories"][0]["services"][0]["guide"]["materials"].append(
        {"id": "other", "names": {"zh_CN": "其他材料", "zh_TW": "其他材料", "en": "Other materials"},
         "main": False, "reusable": False})
    doc["categories"][0]["services"][0]["guide"]["legal_basis"] = []
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    result = kioskctl("menu", "lint", str(bad))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 4  # legal basis + zh_CN + zh_TW + en catch-alls, one a line
    assert all(line.startswith("$.categories[0].services[0].guide.") and ": " in line for line in lines)
    missing = kioskctl("menu", "lint", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_keygen_sign_verify_round_trip(tmp_path):
    result = kioskctl("menu", "keygen", "-o", str(tmp_path / "admin"))
    assert result.returncode == 0, result.stderr
    key, pub = tmp_path / "admin.key", tmp_path / "admin.pub"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(pub.read_text().strip()) == 44
    again = kioskctl("menu", "keygen", "-o", str(tmp_path / "admin"))
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr

    menu = write_menu(tmp_path / "menu.json", version=7)
    signed = kioskctl("menu", "sign", str(menu), "--key", str(key), "-o", str(tmp_path / "menu.bundle"))
    assert signed.returncode == 0, signed.stderr
    ok = kioskctl("menu", "verify", str(tmp_path / "menu.bundle"), "--pubkey", str(pub), "--installed-version", "6")
    assert ok.returncode == 0 and "OK menu version 7" in ok.stdout

    rollback = kioskctl("menu", "verify", str(tmp_path / "menu.bundle"), "--pubkey", str(pub), "--installed-version", "7")
    assert rollback.returncode == 1 and "rejected (rollback)" in rollback.stderr
    region = kioskctl("menu", "verify", str(tmp_path / "menu.bundle"), "--pubkey", str(pub), "--region", "350103")
    assert region.returncode == 1 and "wrong_region" in region.stderr
    # the dev config pins only the dev key: this admin key is unknown to it
    unknown = kioskctl("menu", "verify", str(tmp_path / "menu.bundle"))
    assert unknown.returncode == 1 and "unknown_key" in unknown.stderr
    # two keys pinned during a rotation: either verifies
    kioskctl("menu", "keygen", "-o", str(tmp_path / "next"))
    both = kioskctl("menu", "verify", str(tmp_path / "menu.bundle"), "--pubkey", str(tmp_path / "next.pub"),
                    "--pubkey", str(pub))
    assert both.returncode == 0, both.stderr


def test_tampered_bundle_fails_verify(tmp_path):
    kioskctl("menu", "keygen", "-o", str(tmp_path / "k"))
    menu = write_menu(tmp_path / "menu.json", version=2)
    kioskctl("menu", "sign", str(menu), "--key", str(tmp_path / "k.key"), "-o", str(tmp_path / "b"))
    data = bytearray((tmp_path / "b").read_bytes())
    data[-100] ^= 0x20  # one bit of the signed menu
    (tmp_path / "b").write_bytes(bytes(data))
    result = kioskctl("menu", "verify", str(tmp_path / "b"), "--pubkey", str(tmp_path / "k.pub"))
    assert result.returncode == 1 and "bad_signature" in result.stderr


def test_sign_refuses_a_menu_with_findings(tmp_path):
    kioskctl("menu", "keygen", "-o", str(tmp_path / "k"))
    doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    doc["categories"][0]["services"][0]["names"].pop("en")
    menu = tmp_path / "menu.json"
    menu.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    result = kioskctl("menu", "sign", str(menu), "--key", str(tmp_path / "k.key"), "-o", str(tmp_path / "b"))
    assert result.returncode == 1
    assert "$.categories[0].services[0].names.en: untranslated" in result.stdout
    assert "refusing to sign" in result.stderr and not (tmp_path / "b").exists()


def test_shipped_sample_bundle_verifies_with_the_dev_config():
    result = kioskctl("menu", "verify", str(ROOT / "assets" / "menus" / "sample.bundle"))
    assert result.returncode == 0, result.stderr
