"""CJK fonts for the receipt preview (Pillow) and the licence PDF (reportlab).

The UI ships Noto Sans SC/TC faces in assets/fonts/ (CFF-flavoured OpenType).
Pillow reads them directly.  reportlab can only embed TrueType outlines, so
for PDFs the SC face is converted once (cubic -> quadratic with fontTools'
cu2qu) into a TrueType font covering GB 2312, ASCII and CJK punctuation,
cached on disk; a document with characters outside that set (rare name
characters such as 堃) gets a small per-document subset of exactly its text.
Either way reportlab embeds a subset of what the page uses.  reportlab cannot
encode characters beyond the BMP (𠮷): those are drawn as outlines.
"""
from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from functools import lru_cache
from pathlib import Path

from common.paths import ASSETS

log = logging.getLogger(__name__)
# fontTools.subset logs every glyph name it keeps at INFO (~570 kB for the GB 2312 build):
# nothing a technician needs.  Its warnings still come through.
for _noisy in ("fontTools.subset", "fontTools.ttLib", "fontTools.cu2qu"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

ASSET_FONTS = ASSETS / "fonts"
SYSTEM_TTC = {False: Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
              True: Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")}
TTC_FACE = {"SC": 2, "TC": 3}   # face order in the Noto CJK collections: JP KR SC TC HK
_lock = threading.Lock()


def font_source(script: str = "SC", bold: bool = False) -> tuple[Path, int]:
    """(file, face index): the shipped face, else (dev machines) the system collection."""
    shipped = ASSET_FONTS / f"NotoSans{script}-{'Bold' if bold else 'Regular'}.otf"
    if shipped.exists():
        return shipped, 0
    ttc = SYSTEM_TTC[bold]
    if ttc.exists():
        return ttc, TTC_FACE[script]
    raise FileNotFoundError(f"no CJK font: neither {shipped} nor {ttc} exists")


def script_for(language: str) -> str:
    return "TC" if language == "zh_TW" else "SC"


@lru_cache(maxsize=8)
def pil_font(size: int, bold: bool = False, script: str = "SC"):
    from PIL import ImageFont

    path, index = font_source(script, bold)
    return ImageFont.truetype(str(path), size, index=index)


def _base_charset() -> str:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    chars |= {chr(c) for c in range(0x3000, 0x3040)}           # CJK punctuation
    chars |= {chr(c) for c in range(0xFF01, 0xFF5F)}           # full-width forms
    chars |= set("·—…‘’“”•※№℃")
    for lead in range(0xA1, 0xF8):                             # GB 2312
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return "".join(sorted(chars))


def _to_truetype(source: Path, index: int, text: str, ps_name: str) -> bytes:
    """Subset ``source`` to ``text``, convert CFF outlines to TrueType glyf, rename to ``ps_name``.

    reportlab keys registered fonts by the face's PostScript name, so every
    subset needs its own or the first one registered answers for all.
    """
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    font = TTFont(str(source), fontNumber=index)
    options = subset.Options()
    options.layout_features, options.hinting, options.desubroutinize = [], False, True
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    if "glyf" not in font:
        glyph_set, order = font.getGlyphSet(), font.getGlyphOrder()
        glyf = newTable("glyf")
        glyf.glyphOrder, glyf.glyphs = order, {}
        for name in order:
            pen = TTGlyphPen(glyph_set)
            glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
            glyf[name] = pen.glyph()
        font["glyf"], font["loca"] = glyf, newTable("loca")
        for tag in ("CFF ", "VORG"):
            if tag in font:
                del font[tag]
        font.sfntVersion = "\0\1\0\0"
        maxp = font["maxp"]
        maxp.tableVersion = 0x00010000
        for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                     "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
            setattr(maxp, attr, 0)
        maxp.maxZones = 1
        post = font["post"]
        post.formatType, post.extraNames, post.mapping = 2.0, [], {}
        font["head"].glyphDataFormat = 0
    for record in font["name"].names:
        if record.nameID in (1, 3, 4, 6):
            record.string = ps_name
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


class PdfFonts:
    """Registers embeddable CJK fonts with reportlab and picks one per document.

    The base font's one-time build (several seconds of CFF->TrueType conversion) must
    never happen inside a resident's print: :meth:`prepare` builds and registers it, and
    is called at install (``kioskctl print fonts``), at self-test, and in the background
    when the licence printer opens (:meth:`prepare_in_background`).  A print that comes
    before the background build finished waits for that build (the lock), never starts a
    second one.
    """

    def __init__(self, cache_dir: Path):
        self.cache_dir = Path(cache_dir)
        self._base: tuple[str, frozenset] | None = None
        self._extra: dict[str, str] = {}
        self._warming: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        """The base font is built and registered: a print does only PDF work."""
        return self._base is not None

    def prepare(self) -> str:
        """Build (if needed) and register the base font; returns its registered name."""
        with _lock:
            return (self._base or self._load_base())[0]

    def prepare_in_background(self) -> threading.Thread | None:
        """Start :meth:`prepare` in a daemon thread (once); returns the thread (None: ready)."""
        with _lock:
            if self._warming is None and self._base is None:
                def warm() -> None:
                    try:
                        self.prepare()
                    except Exception:   # a print will try again and report its own error
                        log.exception("licence fonts: background build failed")
                self._warming = threading.Thread(target=warm, name="licence-fonts", daemon=True)
                self._warming.start()
            return self._warming

    def cached(self) -> bool:
        """The base font's TrueType file is on disk (the slow part is done)."""
        return self._base_path().exists()

    def _base_path(self) -> Path:
        source, index = font_source("SC")
        stamp = f"v2:{source.resolve()}:{index}:{source.stat().st_size}:{int(source.stat().st_mtime)}"
        return self.cache_dir / f"cjk-sc-{hashlib.sha256(stamp.encode()).hexdigest()[:16]}.ttf"

    def font_for(self, text: str) -> str:
        """Name of a registered font that has a glyph for every character of ``text``."""
        with _lock:
            name, covered = self._base or self._load_base()
            text = "".join(ch for ch in text if ch <= "\uffff")   # beyond the BMP: drawn as outlines
            missing = {ch for ch in text if ch not in covered and not ch.isspace()}
            if not missing:
                return name
            key = hashlib.sha256("".join(sorted(set(text))).encode()).hexdigest()[:16]
            if key not in self._extra:
                source, index = font_source("SC")
                path = self.cache_dir / f"cjk-doc-{key}.ttf"
                if not path.exists():
                    self.cache_dir.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(_to_truetype(source, index, text, f"KioskCJK-{key}"))
                self._extra[key] = self._register(f"KioskCJK-{key}", path)
            return self._extra[key]

    def _load_base(self) -> tuple[str, frozenset]:
        source, index = font_source("SC")
        path = self._base_path()
        digest = path.stem.removeprefix("cjk-sc-")
        if not path.exists():
            log.info("licence fonts: building the PDF CJK font cache (one time, a few seconds)")
            started = time.monotonic()
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(_to_truetype(source, index, _base_charset(), f"KioskCJK-{digest}"))
            tmp.replace(path)
            log.info("licence fonts: built in %.1f s", time.monotonic() - started)
        name = self._register(f"KioskCJK-{digest}", path)
        from fontTools.ttLib import TTFont

        covered = frozenset(chr(c) for c in TTFont(str(path), lazy=True).getBestCmap())
        self._base = (name, covered)
        return self._base

    @staticmethod
    def _register(name: str, path: Path) -> str:
        """Register by file path: reportlab caches fonts read from file objects under one key."""
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(path)))
        return name


@lru_cache(maxsize=4)
def pdf_fonts(cache_dir: str) -> PdfFonts:
    return PdfFonts(Path(cache_dir))


class OutlineGlyphs:
    """Characters beyond the BMP (e.g. 𠮷 in names), which reportlab's TrueType
    embedding cannot encode, drawn on the PDF canvas as filled outlines."""

    def __init__(self, script: str = "SC"):
        from fontTools.ttLib import TTFont

        path, index = font_source(script)
        self._font = TTFont(str(path), fontNumber=index, lazy=True)
        self._glyphs = self._font.getGlyphSet()
        self._cmap = self._font.getBestCmap()
        self.units_per_em = self._font["head"].unitsPerEm

    def advance(self, ch: str, size: float) -> float:
        name = self._cmap.get(ord(ch), ".notdef")
        return self._glyphs[name].width * size / self.units_per_em

    def draw(self, pdf, ch: str, x: float, y: float, size: float) -> float:
        """Fill the glyph of ``ch`` with its origin at (x, y); returns the advance."""
        from fontTools.pens.basePen import BasePen

        scale = size / self.units_per_em
        path = pdf.beginPath()

        class CanvasPen(BasePen):
            def _moveTo(self, p):
                path.moveTo(x + p[0] * scale, y + p[1] * scale)

            def _lineTo(self, p):
                path.lineTo(x + p[0] * scale, y + p[1] * scale)

            def _curveToOne(self, p1, p2, p3):
                path.curveTo(*(v for p in (p1, p2, p3) for v in (x + p[0] * scale, y + p[1] * scale)))

            def _closePath(self):
                path.close()

        name = self._cmap.get(ord(ch), ".notdef")
        self._glyphs[name].draw(CanvasPen(self._glyphs))
        pdf.drawPath(path, stroke=0, fill=1, fillMode=0)
        return self._glyphs[name].width * scale


@lru_cache(maxsize=2)
def outline_glyphs(script: str = "SC") -> OutlineGlyphs:
    return OutlineGlyphs(script)
