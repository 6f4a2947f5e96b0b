"""Printing figures: receipt bytes built (goal <= 20 ms), licence PDF rendered (goal <= 300 ms).

Medians of repeated runs in this process.  The licence figure is with the
CJK TrueType cache already built (a one-time cost of several seconds per
kiosk and font version, measured separately as ``font cache build``) and the
font registered, which is the state of a running kiosk.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common.paths import PROJECT_ROOT
from devices.printers.licence import render_pdf
from devices.printers.receipt_layout import ReceiptData, build_receipt
from devices.printers.simulator import render_png

SAMPLE_DOC = PROJECT_ROOT / "assets" / "templates" / "samples" / "business_licence_individual.json"
FONT_CACHE = PROJECT_ROOT / "var" / "bench-cache" / "fonts"


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _fresh_kiosk_child(data_dir: str, wait_for_fonts: str) -> None:
    """A fresh process and data directory, as a newly started kiosk: the licence printer opens
    (its background font build starts), then -- after that build had its chance, or at once --
    the resident's first licence.  Prints JSON timings."""
    from common.events import EventBus
    from devices import registry
    from devices.printers.fonts import pdf_fonts
    from kiosk import config as cfg

    config = cfg.parse(f'[kiosk]\ndata_dir = "{data_dir}"\n[devices.licence_printer]\ndriver = "file"\n',
                       "bench", PROJECT_ROOT)
    started = time.perf_counter()
    device = registry.build("licence_printer", config, EventBus())
    device.open()
    fonts = pdf_fonts(str(config.data_dir / "cache" / "fonts"))
    build_s = None
    if wait_for_fonts == "wait":
        while not fonts.ready:
            time.sleep(0.05)
        build_s = time.perf_counter() - started
    else:
        while device.status.code == "not_opened":   # the supervisor has connected: the build is under way
            time.sleep(0.01)
    doc = json.loads(SAMPLE_DOC.read_text(encoding="utf-8"))
    start = time.perf_counter()
    device.print_document(doc, "bench-fresh-kiosk")
    print_s = time.perf_counter() - start
    device.close()
    print(json.dumps({"build_s": build_s, "print_s": print_s}), flush=True)
    os._exit(0)


def _fresh_kiosk(wait_for_fonts: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-fresh-kiosk-") as tmp:
        out = subprocess.run([sys.executable, "-m", "bench.bench_print", "--fresh-kiosk", tmp, wait_for_fonts],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict]:
    repeats = 20 if quick else 200
    data = ReceiptData(centre_name="福田区华富街道党群服务中心", service_name="敬老优待证办理（申领、补领、换领）",
                       application_no="FT20261122-000123", resident_name="张*三", id_number="110105********002X",
                       submitted_at=datetime(2026, 11, 22, 10, 30), status="queued", kind="承诺件", promised_days=5,
                       delivery={"method": "courier", "centre": None, "address": "深圳市福田区华富街道****"},
                       lookup_url="https://zwfw.example.gov.cn/q?no=FT20261122-000123", language="zh_CN")
    receipt_ms = _median_ms(lambda: build_receipt(data, 80), repeats)
    payload = build_receipt(data, 80)
    preview_ms = _median_ms(lambda: render_png(payload, 80), max(5, repeats // 20))

    doc = json.loads(SAMPLE_DOC.read_text(encoding="utf-8"))
    figures = []
    start = time.perf_counter()
    render_pdf(doc, "bench-token", font_cache=FONT_CACHE)          # builds the cache if missing, registers the font
    first_ms = (time.perf_counter() - start) * 1000
    pdf_ms = _median_ms(lambda: render_pdf(doc, "bench-token", font_cache=FONT_CACHE), max(5, repeats // 10))
    with tempfile.TemporaryDirectory() as cold:
        if not quick:
            start = time.perf_counter()
            render_pdf(doc, "bench-token", font_cache=Path(cold))
            figures.append({"name": "print: font cache build (one time)", "value": round(time.perf_counter() - start, 2),
                            "unit": "s", "goal": "", "ok": None,
                            "detail": "GB 2312 + punctuation subset of Noto Sans SC converted CFF->TrueType"})
    fresh = _fresh_kiosk("wait")
    early = _fresh_kiosk("now")
    figures += [
        {"name": "print: first licence on a fresh kiosk", "value": round(fresh["print_s"], 3), "unit": "s",
         "goal": "<= 1 s", "ok": fresh["print_s"] <= 1.0,
         "detail": f"fresh process and data dir, after the background font build at printer open "
                   f"({fresh['build_s']:.1f} s) ended; render, journal, file backend"},
        {"name": "print: first licence before the background font build ended", "value": round(early["print_s"], 2),
         "unit": "s", "goal": "", "ok": None,
         "detail": "printed at once after the printer opened: the print waits for the build under way "
                   "(never a second build); install (kioskctl print fonts) and self-test build it beforehand"},
    ]
    figures[:0] = [
        {"name": "print: receipt bytes built", "value": round(receipt_ms, 3), "unit": "ms", "goal": "<= 20 ms",
         "ok": receipt_ms <= 20, "detail": f"median of {repeats}, 80 mm, GB18030, {len(payload)} bytes"},
        {"name": "print: licence PDF rendered", "value": round(pdf_ms, 2), "unit": "ms", "goal": "<= 300 ms",
         "ok": pdf_ms <= 300, "detail": f"median of {max(5, repeats // 10)}, 营业执照 with form, font embedded; "
                                        f"first render in process {first_ms:.0f} ms"},
        {"name": "print: receipt preview PNG", "value": round(preview_ms, 1), "unit": "ms", "goal": "", "ok": None,
         "detail": "ESC/POS bytes interpreted and rendered with the CJK font"},
    ]
    return figures


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--fresh-kiosk":
        _fresh_kiosk_child(sys.argv[2], sys.argv[3])
    else:
        for figure in run(quick="--quick" in sys.argv):
            print(figure)
