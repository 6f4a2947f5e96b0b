"""``kioskctl doc scan`` and ``kioskctl scan decode``: the vision code on still images.

``doc scan IMAGE -o OUT.jpg`` finds the page in a photo and writes it squared
up to A4 at 300 dpi (several images with ``-o OUT.pdf`` become one PDF);
exit 1 with one line if no page is found.  ``scan decode IMAGE...`` prints
every QR/barcode payload on its own line; exit 1 if there were none.
Technicians use them to check a camera's pictures without starting the kiosk.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from devices.commands import CommandError


def register(sub) -> None:
    doc = sub.add_parser("doc", help="document camera: rectify photos of pages")
    doc_actions = doc.add_subparsers(dest="doc_command", metavar="ACTION", required=True)
    scan = doc_actions.add_parser("scan", help="find the page in a photo and write it as an A4 image")
    scan.add_argument("images", nargs="+", metavar="IMAGE")
    scan.add_argument("-o", "--output", required=True, help="OUT.jpg (one image) or OUT.pdf (one or more)")
    scan.add_argument("--enhance", action="store_true", help="flatten lighting and whiten paper for text")
    scan.add_argument("--dpi", type=int, default=300)
    scan.set_defaults(func=cmd_doc_scan)

    codes = sub.add_parser("scan", help="QR and barcodes: decode still images")
    code_actions = codes.add_subparsers(dest="scan_command", metavar="ACTION", required=True)
    decode = code_actions.add_parser("decode", help="print each payload found in the images, one per line")
    decode.add_argument("images", nargs="+", metavar="IMAGE")
    decode.add_argument("--backend", choices=("zxing", "pyzbar"), default="zxing")
    decode.set_defaults(func=cmd_scan_decode)


def _read(path: str):
    import cv2

    if not Path(path).is_file():
        raise CommandError(f"{path}: no such file")
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise CommandError(f"{path}: not an image OpenCV can read (JPEG, PNG, BMP, TIFF, WebP)")
    return image


def cmd_doc_scan(args) -> int:
    import cv2

    from devices.document import NoPageFound, pages_to_pdf, scan_still

    output = Path(args.output)
    as_pdf = output.suffix.lower() == ".pdf"
    if not as_pdf and len(args.images) > 1:
        raise CommandError("several images need a PDF output (-o OUT.pdf)", 2)
    pages = []
    for path in args.images:
        try:
            pages.append(scan_still(_read(path), enhance=args.enhance, dpi=args.dpi))
        except NoPageFound as exc:
            raise CommandError(f"{path}: {exc}") from None
    if not as_pdf:
        if not cv2.imwrite(str(output), pages[0], [cv2.IMWRITE_JPEG_QUALITY, 90]):
            raise CommandError(f"{output}: cannot write (directory missing or unknown image extension)")
        h, w = pages[0].shape[:2]
        print(f"{output}: {w}x{h} px, A4 at {args.dpi} dpi")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        jpegs = []
        for index, page in enumerate(pages):
            jpeg = Path(tmp) / f"page-{index:03d}.jpg"
            cv2.imwrite(str(jpeg), page, [cv2.IMWRITE_JPEG_QUALITY, 90])
            jpegs.append(jpeg)
        try:
            pages_to_pdf(jpegs, output)
        except OSError as exc:
            raise CommandError(f"{output}: cannot write ({exc.strerror})") from None
    print(f"{output}: {len(pages)} page(s), A4")
    return 0


def cmd_scan_decode(args) -> int:
    from devices.qr import decode_image

    found = 0
    for path in args.images:
        try:
            image = _read(path)
        except CommandError as exc:
            print(f"kioskctl: {exc}", file=sys.stderr)
            continue
        for item in decode_image(image, args.backend):
            print(item.text)
            found += 1
    if not found:
        raise CommandError("no QR code or barcode found" + (" in any image" if len(args.images) > 1 else ""))
    return 0
