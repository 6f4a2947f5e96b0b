"""One receipt's ESC/POS bytes, written with python-escpos's command set and a capability profile.

python-escpos (``escpos.printer.Dummy`` collects the bytes) sends the
commands: initialise, alignment, bold, double size, line spacing, the QR code
and the cut, as the printer's profile allows -- native ``GS ( k`` QR where the
profile has it, a raster image of the code where not; a partial cut only on a
printer that has a cutter.  Text is the exception: 3.1's text path guesses
encodings (full-width punctuation came out as '?'), so each line is encoded
here (GB18030 by default, GBK or UTF-8 per printer) after the printer's Chinese
mode is switched on, and wrapped by printed width (a character that encodes to
more than one byte prints two columns wide).  The default profile has no paper
width, so the width comes from the kiosk's config, never from the profile.
"""
from __future__ import annotations

from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy

FS, LF = b"\x1c", b"\n"
LINE_SPACING_DOTS = 30
NO_LINE_START = set("，。、；：？！）》」』】〕〉”’…—,.;:?!)]}%")


class EscPosWriter:
    """Accumulates one receipt at a known width, encoding and printer profile."""

    def __init__(self, columns: int, encoding: str, profile: str = "default"):
        self.columns, self.encoding = columns, encoding
        self.printer = Dummy(profile=profile)
        self.printer.hw("INIT")
        # Chinese printers need their double-byte mode switched on (FS &) for GB
        # encodings; UTF-8 firmware must have it off (FS .).  python-escpos has no command for it.
        self.printer._raw(FS + (b"&" if encoding in ("gb18030", "gbk") else b"."))
        self.printer.line_spacing(LINE_SPACING_DOTS)

    @property
    def native_qr(self) -> bool:
        return self.printer.profile.supports("qrCode")

    def output(self) -> bytes:
        return self.printer.output

    def encode(self, text: str) -> bytes:
        return text.encode(self.encoding, errors="replace")

    @staticmethod
    def width(text: str) -> int:
        return sum(1 if ord(ch) < 0x80 else 2 for ch in text)

    def wrap(self, text: str, columns: int) -> list[str]:
        lines, line, used = [], "", 0
        for ch in text:
            w = self.width(ch)
            if used + w > columns:
                cut = line.rfind(" ") + 1 if ch != " " and ch.isascii() and line[-1:].isascii() else 0
                if cut <= 0 or cut < len(line) // 2:    # no word boundary nearby: break anywhere
                    cut = len(line)
                    if ch in NO_LINE_START and len(line) > 1:   # 禁则: 。）」 never start a line
                        cut -= 1
                lines.append(line[:cut].rstrip())
                line = (line[cut:] + ch).lstrip(" ")
                used = self.width(line)
                continue
            line += ch
            used += w
        if line or not lines:
            lines.append(line.rstrip())
        return lines

    def _text(self, text: str) -> None:
        self.printer._raw(self.encode(text))

    def style(self, bold: bool = False, double: bool = False) -> None:
        self.printer.set(bold=bold, double_width=double, double_height=double, normal_textsize=not double)

    def line(self, text: str = "", bold: bool = False, double: bool = False, align: str = "left") -> None:
        self.printer.set(align=align)
        self.style(bold, double)
        for part in self.wrap(text, self.columns // (2 if double else 1)):
            self._text(part + "\n")
        self.style()

    def field(self, label: str, value: str, sep: str, bold_value: bool = False) -> None:
        """``label：value`` with continuation lines indented under the value."""
        self.printer.set(align="left")
        head = label + sep
        indent = self.width(head)
        if indent > self.columns // 2:       # long English labels: value on its own lines
            self.line(head)
            head, indent = "  ", 2
        lines = self.wrap(value, self.columns - indent) or [""]
        for i, part in enumerate(lines):
            self._text(head if i == 0 else " " * indent)
            if bold_value:
                self.printer.set(bold=True)
            self._text(part + "\n")
            if bold_value:
                self.printer.set(bold=False)

    def rule(self) -> None:
        self.printer.set(align="left")
        self._text("-" * self.columns + "\n")

    def qr(self, content: str, module_size: int) -> None:
        """Native QR where the profile has it, else python-escpos's raster image of the code."""
        self.printer.set(align="center")
        self.printer.qr(content, ec=QR_ECLEVEL_M, size=module_size, native=self.native_qr)
        self.printer._raw(LF)

    def cut(self) -> None:
        self.printer.cut(mode="PART")
