"""The licence font (issue 18): its one-time CFF->TrueType build never runs inside a
resident's print -- it is built at install (``kioskctl print fonts``), at self-test and in
the background when the licence printer opens -- and it logs what a technician needs, once."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from devices.printers import fonts
from devices.printers.cups_backend import FileBackend
from devices.printers.licence import LicencePrinter
from kiosk.cli import main as kioskctl

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets" / "templates" / "samples" / "certificate_generic.json"


def test_font_subsetting_logs_no_glyph_lists(caplog):
    """fontTools.subset logged every kept glyph name at INFO: ~570 kB for the first licence."""
    caplog.set_level(logging.DEBUG)
    source, index = fonts.font_source("SC")
    fonts._to_truetype(source, index, "敬老优待证办理" * 3, "KioskCJK-logtest")
    chatty = [r for r in caplog.records if r.name.startswith("fontTools") and r.levelno < logging.WARNING]
    assert chatty == [], f"{len(chatty)} fontTools records, e.g. {chatty[0].getMessage()[:120]!r}"


def test_the_font_is_built_when_the_printer_opens_not_in_the_first_print(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    cache = tmp_path / "fonts"            # a fresh kiosk: nothing built yet
    device = LicencePrinter("licence_printer", None, FileBackend(tmp_path / "prints", retention_s=600),
                            tmp_path / "print_journal.sqlite3", cache)
    building = []
    real = fonts._to_truetype
    fonts_in_print = []

    def spy(*args, **kwargs):
        building.append(time.monotonic())
        if printing:
            fonts_in_print.append(args[2][:10])
        return real(*args, **kwargs)
    printing = False
    fonts._to_truetype = spy
    try:
        device.open()                                  # the supervisor connects: the build starts
        deadline = time.monotonic() + 120
        while not fonts.pdf_fonts(str(cache)).ready and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fonts.pdf_fonts(str(cache)).ready and len(building) == 1 and list(cache.glob("cjk-sc-*.ttf"))
        printing = True
        started = time.monotonic()
        result = device.print_document(json.loads(SAMPLE.read_text(encoding="utf-8")), "tok-fresh-kiosk")
        took = time.monotonic() - started
    finally:
        fonts._to_truetype = real
        device.close()
        device.journal.close()
    assert result.ok and fonts_in_print == [] and took < 1.0, f"first licence took {took:.2f} s"
    built = [r.getMessage() for r in caplog.records if "licence fonts" in r.getMessage()]
    assert len(built) == 2 and built[1].startswith("licence fonts: built in")


def test_kioskctl_print_fonts_builds_once(tmp_path, capsys):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "var"}"\n')
    assert kioskctl(["--config", str(config), "print", "fonts"]) == 0
    assert "licence fonts built in" in capsys.readouterr().out
    assert list((tmp_path / "var" / "cache" / "fonts").glob("cjk-sc-*.ttf"))
    assert kioskctl(["--config", str(config), "print", "fonts"]) == 0
    assert "already built" in capsys.readouterr().out
