"""Draw the kiosk's pictograms into ``assets/images/icon-*.png``.

Why generated: simple line pictograms in one stroke weight look consistent,
carry no third-party licence, and are reproducible.  They are white on
transparent; the UI tints them (Kivy ``Image.color`` multiplies).  Drawn at
4× and downsampled for smooth edges.

Usage: ``python scripts/make_icons.py``
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "assets" / "images"
SIZE = 192
S = 4 * SIZE          # drawing canvas
W = int(S * 0.06)     # stroke width
WHITE = (255, 255, 255, 255)


def canvas():
    img = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    return img, ImageDraw.Draw(img)


def box(cx, cy, w, h):
    return [S * (cx - w / 2), S * (cy - h / 2), S * (cx + w / 2), S * (cy + h / 2)]


def personal(d):
    d.ellipse(box(0.5, 0.32, 0.3, 0.3), outline=WHITE, width=W)
    d.arc(box(0.5, 0.92, 0.66, 0.7), 180, 360, fill=WHITE, width=W)


def business(d):
    d.rectangle(box(0.5, 0.55, 0.56, 0.66), outline=WHITE, width=W)
    for col in (0.38, 0.5, 0.62):
        for row in (0.36, 0.5):
            d.rectangle(box(col, row, 0.06, 0.07), fill=WHITE)
    d.rectangle(box(0.5, 0.78, 0.14, 0.2), fill=WHITE)
    d.line([S * 0.14, S * 0.88, S * 0.86, S * 0.88], fill=WHITE, width=W)


def printing(d):
    d.rectangle(box(0.5, 0.24, 0.42, 0.2), outline=WHITE, width=W)
    d.rounded_rectangle(box(0.5, 0.5, 0.72, 0.32), radius=S * 0.05, outline=WHITE, width=W)
    d.rectangle(box(0.5, 0.74, 0.42, 0.28), outline=WHITE, width=W)
    for y in (0.7, 0.8):
        d.line([S * 0.38, S * y, S * 0.62, S * y], fill=WHITE, width=W // 2)
    d.ellipse(box(0.74, 0.45, 0.05, 0.05), fill=WHITE)


def query(d):
    d.ellipse(box(0.42, 0.42, 0.46, 0.46), outline=WHITE, width=W)
    d.line([S * 0.59, S * 0.59, S * 0.84, S * 0.84], fill=WHITE, width=int(W * 1.5))


def appeal(d):
    d.rounded_rectangle(box(0.5, 0.44, 0.74, 0.52), radius=S * 0.08, outline=WHITE, width=W)
    d.polygon([(S * 0.3, S * 0.68), (S * 0.3, S * 0.86), (S * 0.48, S * 0.69)], fill=WHITE)
    for x in (0.35, 0.5, 0.65):
        d.ellipse(box(x, 0.44, 0.07, 0.07), fill=WHITE)


def idcard(d):
    d.rounded_rectangle(box(0.5, 0.5, 0.84, 0.56), radius=S * 0.05, outline=WHITE, width=W)
    d.ellipse(box(0.32, 0.44, 0.16, 0.16), outline=WHITE, width=W // 2)
    d.arc(box(0.32, 0.66, 0.26, 0.2), 180, 360, fill=WHITE, width=W // 2)
    for y in (0.4, 0.5, 0.6):
        d.line([S * 0.5, S * y, S * 0.78, S * y], fill=WHITE, width=W // 2)


def help_(d):
    d.ellipse(box(0.5, 0.5, 0.8, 0.8), outline=WHITE, width=W)
    d.arc(box(0.5, 0.38, 0.26, 0.24), 200, 360 + 60, fill=WHITE, width=W)
    d.line([S * 0.56, S * 0.48, S * 0.5, S * 0.56, S * 0.5, S * 0.62], fill=WHITE, width=W)
    d.ellipse(box(0.5, 0.74, 0.08, 0.08), fill=WHITE)


def unavailable(d):
    d.ellipse(box(0.5, 0.5, 0.8, 0.8), outline=WHITE, width=W)
    d.line([S * 0.24, S * 0.76, S * 0.76, S * 0.24], fill=WHITE, width=W)


def alert(d):
    """An error or a problem: a triangle with "!" (never colour alone: words go beside it)."""
    d.line([S * 0.5, S * 0.12, S * 0.9, S * 0.84, S * 0.1, S * 0.84, S * 0.5, S * 0.12], fill=WHITE, width=W,
           joint="curve")
    d.line([S * 0.5, S * 0.36, S * 0.5, S * 0.6], fill=WHITE, width=int(W * 1.2))
    d.ellipse(box(0.5, 0.72, 0.08, 0.08), fill=WHITE)


def elder(d):
    d.ellipse(box(0.4, 0.2, 0.18, 0.18), outline=WHITE, width=W)
    d.line([S * 0.4, S * 0.3, S * 0.4, S * 0.62, S * 0.3, S * 0.9], fill=WHITE, width=W, joint="curve")
    d.line([S * 0.4, S * 0.62, S * 0.5, S * 0.9], fill=WHITE, width=W)
    d.line([S * 0.4, S * 0.4, S * 0.6, S * 0.5], fill=WHITE, width=W)
    d.line([S * 0.66, S * 0.42, S * 0.66, S * 0.92], fill=WHITE, width=W)


def eid(d):
    """A phone showing a QR code (电子身份证)."""
    d.rounded_rectangle(box(0.5, 0.5, 0.5, 0.84), radius=S * 0.06, outline=WHITE, width=W)
    d.line([S * 0.44, S * 0.15, S * 0.56, S * 0.15], fill=WHITE, width=W // 2)
    for cx, cy in ((0.4, 0.36), (0.6, 0.36), (0.4, 0.56)):   # the finder squares
        d.rectangle(box(cx, cy, 0.14, 0.14), outline=WHITE, width=W // 2)
        d.rectangle(box(cx, cy, 0.05, 0.05), fill=WHITE)
    for cx, cy in ((0.56, 0.52), (0.64, 0.6), (0.56, 0.62), (0.65, 0.5)):
        d.rectangle(box(cx, cy, 0.05, 0.05), fill=WHITE)
    d.line([S * 0.34, S * 0.75, S * 0.66, S * 0.75], fill=WHITE, width=W // 2)


ICONS = {"personal": personal, "business": business, "printing": printing, "query": query,
         "appeal": appeal, "idcard": idcard, "help": help_, "unavailable": unavailable,
         "elder": elder, "alert": alert, "eid": eid}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, draw in ICONS.items():
        img, d = canvas()
        draw(d)
        img.resize((SIZE, SIZE), Image.LANCZOS).save(OUT / f"icon-{name}.png", optimize=True)
        print(OUT / f"icon-{name}.png")


if __name__ == "__main__":
    main()
