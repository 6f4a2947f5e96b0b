"""kioskctl printer status / print test-receipt / print license / print journal."""
from __future__ import annotations

import shutil

from kiosk.cli import main
from tests.test_print_licence import FONT_CACHE, SAMPLES, sample


def config_file(tmp_path, extra: str = "") -> str:
    data = tmp_path / "var"
    (data / "cache").mkdir(parents=True)
    from devices.printers.licence import render_pdf

    render_pdf(sample(), font_cache=FONT_CACHE)                        # make sure the shared cache exists
    shutil.copytree(FONT_CACHE, data / "cache" / "fonts")               # and skip rebuilding it per test
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\ndata_dir = "{data}"\n{extra}', encoding="utf-8")
    return str(path)


def test_status_of_simulated_printers(tmp_path, capsys):
    assert main(["--config", config_file(tmp_path), "printer", "status"]) == 0
    out = capsys.readouterr().out
    assert "receipt_printer: ready" in out and "licence_printer: ready" in out


def test_status_exits_1_when_the_receipt_printer_is_unreachable(tmp_path, capsys):
    cfg = config_file(tmp_path, '[devices.receipt_printer]\ndriver = "network"\nconnection = "127.0.0.1:9"\n')
    assert main(["--config", cfg, "printer", "status", "--wait", "1"]) == 1
    assert "receipt_printer: disconnected" in capsys.readouterr().out


def test_test_receipt_preview_png(tmp_path, capsys):
    out = tmp_path / "r.png"
    assert main(["--config", config_file(tmp_path), "print", "test-receipt", "--out", str(out),
                 "--language", "en", "--width", "58"]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


def test_test_receipt_on_the_simulated_printer(tmp_path, capsys):
    assert main(["--config", config_file(tmp_path), "print", "test-receipt"]) == 0
    assert capsys.readouterr().out.startswith("printed")


def test_license_to_pdf_and_printed_once_per_token(tmp_path, capsys):
    cfg = config_file(tmp_path)
    out = tmp_path / "doc.pdf"
    doc = str(SAMPLES / "certificate_generic.json")
    assert main(["--config", cfg, "print", "license", doc, "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")
    assert main(["--config", cfg, "print", "license", doc, "--token", "tok-cli"]) == 0
    assert main(["--config", cfg, "print", "license", doc, "--token", "tok-cli"]) == 0
    assert "already printed" in capsys.readouterr().out
    assert len(list((tmp_path / "var" / "prints").glob("*.pdf"))) == 1
    assert main(["--config", cfg, "print", "journal"]) == 0
    assert "every journalled print is completed" in capsys.readouterr().out


def test_license_errors_are_one_line(tmp_path, capsys):
    cfg = config_file(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"document_id": "X", "template": "certificate_generic", "fields": {}}', encoding="utf-8")
    assert main(["--config", cfg, "print", "license", str(bad), "--out", str(tmp_path / "x.pdf")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kioskctl: document not printed: [bad_document]") and err.count("\n") == 1
    assert main(["--config", cfg, "print", "license", str(tmp_path / "missing.json"), "--out", "x.pdf"]) == 2


def test_test_receipt_names_the_centre_in_the_receipts_language(make_config, tmp_path):
    from devices.printers.cli import sample_receipt
    config = make_config(f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\ncentre_name = "莲花街道党群服务中心"\n'
                         'centre_name_zh_tw = "蓮花街道黨群服務中心"\ncentre_name_en = "Lianhua Service Centre"\n')
    assert [sample_receipt(lang, config).centre_name for lang in ("zh_CN", "zh_TW", "en")] == [
        "莲花街道党群服务中心", "蓮花街道黨群服務中心", "Lianhua Service Centre"]
