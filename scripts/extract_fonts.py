"""Extract the Simplified and Traditional Chinese faces of Noto Sans CJK.

Why: Debian's fonts-noto-cjk ships ``.ttc`` collections whose first face is
the Japanese one, and Kivy's SDL2 text provider opens only face 0, so Chinese
text would be drawn with Japanese glyph forms.  This script writes each SC/TC
face as a standalone OpenType file into ``assets/fonts/``.  The faces are not
subset: residents' names use rare characters (䶮 堃 喆 𠮷) that a subset would
drop.  Licence: SIL Open Font License 1.1 (``assets/fonts/OFL.txt``).

Usage: ``python scripts/extract_fonts.py [--source /usr/share/fonts/opentype/noto]``
"""
from __future__ import annotations

import argparse
from pathlib import Path

from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parent.parent
# output file -> (collection file, face family name inside the collection)
FACES = {
    "NotoSansSC-Regular.otf": ("NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    "NotoSansSC-Bold.otf": ("NotoSansCJK-Bold.ttc", "Noto Sans CJK SC Bold"),
    "NotoSansTC-Regular.otf": ("NotoSansCJK-Regular.ttc", "Noto Sans CJK TC"),
    "NotoSansTC-Bold.otf": ("NotoSansCJK-Bold.ttc", "Noto Sans CJK TC Bold"),
}


def extract(source: Path, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for out_name, (collection, full_name) in FACES.items():
        faces = TTCollection(source / collection).fonts
        face = next((f for f in faces if f["name"].getDebugName(4) == full_name), None)
        if face is None:
            raise SystemExit(f"{collection}: no face named {full_name!r}")
        target = out_dir / out_name
        face.save(target)
        written.append(target)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, default=Path("/usr/share/fonts/opentype/noto"))
    p.add_argument("--out", type=Path, default=ROOT / "assets" / "fonts")
    args = p.parse_args()
    for path in extract(args.source, args.out):
        print(f"{path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
