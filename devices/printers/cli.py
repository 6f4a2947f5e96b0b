"""``kioskctl printer status`` and ``kioskctl print test-receipt|license|journal``."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from devices.commands import CommandError
from common.events import EventBus

ROLES = ("receipt_printer", "licence_printer")


def register(sub) -> None:
    p = sub.add_parser("printer", help="receipt and licence printer status")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="status of both printers (exit 1 unless both are usable)")
    status.add_argument("--wait", type=float, default=3.0, help="seconds to wait for a first status")
    status.set_defaults(func=_status)

    p = sub.add_parser("print", help="print or preview a test receipt or a licence")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    receipt = actions.add_parser("test-receipt", help="print a sample receipt, or write its preview PNG")
    receipt.add_argument("--out", help="write the preview PNG here instead of printing")
    receipt.add_argument("--language", choices=("zh_CN", "zh_TW", "en"), default="zh_CN")
    receipt.add_argument("--width", type=int, choices=(58, 80), help="paper width (default: from config)")
    receipt.set_defaults(func=_test_receipt)
    licence = actions.add_parser("license", help="render DOC.json to a PDF, or print it once per token")
    licence.add_argument("document", help="document JSON as GET /v1/documents/{id} returns it")
    licence.add_argument("--out", help="write the PDF here (no journal, nothing printed)")
    licence.add_argument("--token", help="print token: print on the licence printer through the journal")
    licence.set_defaults(func=_licence)
    fonts = actions.add_parser("fonts", help="build the licence PDF font cache now (install and self-test do it; "
                                             "otherwise the kiosk builds it in the background at start)")
    fonts.set_defaults(func=_fonts)
    journal = actions.add_parser("journal", help="licence print jobs not confirmed as printed")
    journal.set_defaults(func=_journal)


def _open(config, role: str):
    from devices import registry
    from devices.base import wait_for

    device = registry.build(role, config, EventBus())
    device.open()
    return device, wait_for


def _status(args) -> int:
    config = args.context.load_config(args.config)
    usable = True
    for role in ROLES:
        device, wait_for = _open(config, role)
        try:
            wait_for(lambda: device.status.code != "not_opened", args.wait)
            st = device.status
            print(f"{role}: {st.state.value}" + (f" [{st.code}]" if st.code else "") + (f" {st.reason}" if st.reason else ""))
            usable &= st.usable
            for entry in getattr(device, "unfinished", lambda: [])():
                print(f"  unfinished: document {entry.document_id} token {entry.print_token[:8]}… "
                      f"state {entry.state} attempts {entry.attempts}")
        finally:
            device.close()
    return 0 if usable else 1


def sample_receipt(language: str = "zh_CN", config=None):
    """A test receipt for a made-up resident, masked as the kiosk core masks a real one."""
    from devices.printers.receipt_layout import ReceiptData

    centre = config.centre_name_for(language) if config else "服务中心"
    service = {"zh_CN": "敬老优待证办理", "zh_TW": "敬老優待證辦理", "en": "Senior citizen card"}[language]
    return ReceiptData(centre_name=centre, service_name=service, application_no="TEST-0000-0001",
                       resident_name="张*三", id_number="110105********002X", submitted_at=datetime.now(),
                       status="submitted", kind="承诺件", promised_days=5,
                       delivery={"method": "pickup", "centre": centre, "address": None},
                       lookup_url="https://zwfw.example.gov.cn/q?no=TEST-0000-0001", language=language)


def _test_receipt(args) -> int:
    from devices.printers.common import PrinterError
    from devices.printers.receipt_layout import build_receipt
    from devices.printers.simulator import render_png

    config = args.context.load_config(args.config)
    section = config.devices.receipt_printer
    data = sample_receipt(args.language, config)
    width = args.width or section.paper_width_mm
    if args.out:
        payload = build_receipt(data, width, section.encoding, section.profile)
        Path(args.out).write_bytes(render_png(payload, width, section.encoding))
        print(f"preview written to {args.out}")
        return 0
    device, wait_for = _open(config, "receipt_printer")
    try:
        wait_for(lambda: device.status.code != "not_opened", 5.0)
        result = device.print_receipt(data)
    except PrinterError as exc:
        raise CommandError(f"receipt not printed: [{exc.code}] {exc}") from None
    finally:
        device.close()
    print("printed" + (f" (warning: {', '.join(result.warnings)})" if result.warnings else ""))
    return 0


def _licence(args) -> int:
    from devices.printers.common import PrinterError
    from devices.printers.licence import render_pdf

    config = args.context.load_config(args.config)
    try:
        doc = json.loads(Path(args.document).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read document {args.document}: {exc}", 2) from None
    section = config.devices.licence_printer
    try:
        if args.out:
            pdf = render_pdf(doc, args.token or "", offset_mm=(section.offset_x_mm, section.offset_y_mm),
                             font_cache=config.data_dir / "cache" / "fonts")
            Path(args.out).write_bytes(pdf)
            print(f"PDF written to {args.out}")
            return 0
        if not args.token:
            raise CommandError("give --out FILE.pdf to render, or --token TOKEN to print through the journal", 2)
        device, wait_for = _open(config, "licence_printer")
        try:
            wait_for(lambda: device.status.code != "not_opened", 5.0)
            result = device.print_document(doc, args.token)
        finally:
            device.close()
    except PrinterError as exc:
        raise CommandError(f"document not printed: [{exc.code}] {exc}") from None
    print("already printed under this token (nothing printed)" if result.already_printed
          else f"printed: {result.job_ref}")
    return 0


def _fonts(args) -> int:
    import time

    from devices.printers.fonts import pdf_fonts

    config = args.context.load_config(args.config)
    cache = config.data_dir / "cache" / "fonts"
    fonts = pdf_fonts(str(cache))
    if fonts.cached():
        print(f"licence fonts already built in {cache}")
        return 0
    started = time.monotonic()
    fonts.prepare()
    print(f"licence fonts built in {cache} ({time.monotonic() - started:.1f} s)")
    return 0


def _journal(args) -> int:
    from devices.printers.journal import PrintJournal

    config = args.context.load_config(args.config)
    path = config.data_dir / "print_journal.sqlite3"
    if not path.exists():
        print("no print journal yet")
        return 0
    journal = PrintJournal(path)
    entries = journal.unfinished()
    for e in entries:
        print(f"{datetime.fromtimestamp(e.updated_at):%Y-%m-%d %H:%M:%S} {e.state:9} document {e.document_id} "
              f"token {e.print_token[:8]}… attempts {e.attempts} {e.detail}")
    if not entries:
        print("every journalled print is completed")
    journal.close()
    return 0
