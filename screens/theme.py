"""One theme for every screen: colours, spacing, type sizes, fonts.

Sizes are in pixels for a panel whose short side is 1080 px and scale with
the short side, so a 1920×1080 landscape and a 1080×1920 portrait panel get
the same type.  长辈模式 (elder mode) multiplies type by ``ELDER_SCALE`` and
switches to a higher-contrast palette.  Every property is observable: ``.kv``
rules bind to ``theme.fs_body`` etc. and restyle live.

Palette: 政务蓝 (government blue) with a 中国红 accent, as on the national
government service platform; no decoration that imitates the national emblem.
"""
from __future__ import annotations

from pathlib import Path

from kivy.core.text import LabelBase
from kivy.event import EventDispatcher
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty
from kivy.utils import get_color_from_hex as hex_colour

FONT_DIR = Path(__file__).resolve().parent.parent / "assets" / "fonts"
IMAGE_DIR = Path(__file__).resolve().parent.parent / "assets" / "images"
ELDER_SCALE = 1.35
MIN_TOUCH_PX = 64          # at 1080 px short side; big buttons are far larger
BASE_SHORT_SIDE = 1080.0

# Kivy font names -> (regular, bold) files; the SC face also covers English.
FONTS = {
    "KioskSC": ("NotoSansSC-Regular.otf", "NotoSansSC-Bold.otf"),
    "KioskTC": ("NotoSansTC-Regular.otf", "NotoSansTC-Bold.otf"),
}
FONT_FOR_LANGUAGE = {"zh_CN": "KioskSC", "zh_TW": "KioskTC", "en": "KioskSC"}

PALETTES = {
    "standard": {
        "primary": "#0B4EA2", "primary_dark": "#083A7A", "primary_light": "#E3EDF9",
        "accent": "#C8102E", "accent_dark": "#9E0B23",
        "background": "#EEF3F9", "surface": "#FFFFFF", "border": "#D3DCE8",
        "text": "#1B2635", "text_muted": "#56657A", "text_on_primary": "#FFFFFF",
        "success": "#137338", "warning": "#B45309", "disabled": "#D5DBE3", "text_disabled": "#4A5566",
        "error_light": "#FFEDED", "warning_light": "#FFF5E8",
        "overlay": "#0B1A2ECC",
    },
    # 长辈模式: pure white/black, darker blue, thicker borders (contrast ≥ 7:1)
    "elder": {
        "primary": "#00306E", "primary_dark": "#001F4D", "primary_light": "#DCE8F7",
        "accent": "#A8001C", "accent_dark": "#7A0014",
        "background": "#FFFFFF", "surface": "#FFFFFF", "border": "#1B2635",
        "text": "#000000", "text_muted": "#1B2635", "text_on_primary": "#FFFFFF",
        "success": "#0B5D2A", "warning": "#7A3A00", "disabled": "#C4CAD3", "text_disabled": "#1B2635",
        "error_light": "#FFF3F3", "warning_light": "#FFF5E8",
        "overlay": "#000000DD",
    },
}

# Home tiles per category pictogram (white title on the tile), per palette.
TILE_COLOURS = {
    "standard": {"personal": "#0B4EA2", "business": "#0F6480", "printing": "#2F4FA8",
                 "query": "#3B3F98", "appeal": "#B0431A"},
    "elder": {"personal": "#0B4EA2", "business": "#0A4D66", "printing": "#2F4FA8",
              "query": "#3B3F98", "appeal": "#8C3413"},
}

# Every text colour the screens draw on each background, as (text, background, alpha of the
# text): what tests/test_contrast.py holds to WCAG 2.x contrast -- at least 4.5:1, and 7:1 in
# 长辈模式 (CONTRAST_MIN).  A new colour pair in a .kv file belongs here.
CONTRAST_MIN = {"standard": 4.5, "elder": 7.0}
_TONES_ON_PAGE = ("text", "text_muted", "primary", "accent", "success", "warning")
TEXT_PAIRS: tuple[tuple[str, str, float], ...] = (
    *((tone, page, 1.0) for page in ("background", "surface") for tone in _TONES_ON_PAGE),
    ("text", "primary_light", 1.0), ("primary", "primary_light", 1.0),      # secondary button pressed, chips
    ("text_on_primary", "primary", 1.0), ("text_on_primary", "primary_dark", 1.0),   # buttons, header
    ("text_on_primary", "primary", 0.8),                                   # header tagline and date
    ("text_on_primary", "accent", 1.0), ("text_on_primary", "accent_dark", 1.0),     # 结束, accent buttons
    ("text_on_primary", "success", 1.0), ("text_on_primary", "warning", 1.0),        # 即办件 / 承诺件 tags
    ("text_on_primary", "text_muted", 1.0),                                # 非主件 tag
    ("text_disabled", "disabled", 1.0),                                    # a disabled button or tile
    ("text_disabled", "surface", 1.0),                                     # 暂停 service's link
    ("text", "error_light", 1.0), ("accent", "error_light", 1.0),          # 读卡 error box
    ("text", "warning_light", 1.0), ("warning", "warning_light", 1.0),     # 暂停办理 box
)

# name -> px at 1080 short side, standard mode
TYPE_SIZES = {"fs_small": 24, "fs_body": 30, "fs_large": 36, "fs_title": 46, "fs_hero": 64}
SPACING = {"pad": 32, "gap": 24, "radius": 18, "header_h": 112, "button_h": 104, "row_h": 132}


def register_fonts() -> None:
    for name, (regular, bold) in FONTS.items():
        LabelBase.register(name, fn_regular=str(FONT_DIR / regular), fn_bold=str(FONT_DIR / bold))


class Theme(EventDispatcher):
    elder = BooleanProperty(False)
    language = StringProperty("zh_CN")
    scale = NumericProperty(1.0)       # short side / 1080
    font = StringProperty("KioskSC")
    border_w = NumericProperty(1.5)

    primary = ColorProperty()
    primary_dark = ColorProperty()
    primary_light = ColorProperty()
    accent = ColorProperty()
    accent_dark = ColorProperty()
    background = ColorProperty()
    surface = ColorProperty()
    border = ColorProperty()
    text = ColorProperty()
    text_muted = ColorProperty()
    text_on_primary = ColorProperty()
    success = ColorProperty()
    warning = ColorProperty()
    disabled = ColorProperty()
    text_disabled = ColorProperty()
    error_light = ColorProperty()
    warning_light = ColorProperty()
    overlay = ColorProperty()

    # The same sizes again, for the class rules of the base widgets (<KLabel>, <KButton>,
    # <Choice>, ...) only.  Kivy keeps a class rule's binding when an instance rule sets
    # the same property, and whichever fires last wins: an instance's `font_size:
    # theme.fs_small` lost to <KLabel>'s theme.fs_body on every 长辈模式 switch.  These
    # are set before the fs_* sizes, so a widget's own choice always fires last.
    default_fs_small = NumericProperty(0)
    default_fs_body = NumericProperty(0)
    default_fs_large = NumericProperty(0)
    default_fs_title = NumericProperty(0)
    fs_small = NumericProperty(0)
    fs_body = NumericProperty(0)
    fs_large = NumericProperty(0)
    fs_title = NumericProperty(0)
    fs_hero = NumericProperty(0)
    pad = NumericProperty(0)
    gap = NumericProperty(0)
    radius = NumericProperty(0)
    header_h = NumericProperty(0)
    button_h = NumericProperty(0)
    row_h = NumericProperty(0)
    touch_min = NumericProperty(MIN_TOUCH_PX)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fbind("elder", self._restyle)
        self.fbind("scale", self._restyle)
        self.fbind("language", self._restyle)
        self._restyle()

    def type_factor(self) -> float:
        return self.scale * (ELDER_SCALE if self.elder else 1.0)

    def fit_window(self, width: float, height: float) -> None:
        self.scale = max(0.5, min(width, height) / BASE_SHORT_SIDE)

    def _restyle(self, *_args) -> None:
        for key, value in PALETTES["elder" if self.elder else "standard"].items():
            setattr(self, key, hex_colour(value))
        factor = self.type_factor()
        for key, px in TYPE_SIZES.items():   # class-rule defaults first (see default_fs_body)
            if hasattr(self, "default_" + key):
                setattr(self, "default_" + key, round(px * factor))
        for key, px in TYPE_SIZES.items():
            setattr(self, key, round(px * factor))
        # Spacing grows less than type in elder mode so content still fits.
        space = self.scale * (1.15 if self.elder else 1.0)
        for key, px in SPACING.items():
            setattr(self, key, round(px * space))
        self.touch_min = round(MIN_TOUCH_PX * self.scale)
        self.border_w = 3 if self.elder else 1.5
        self.font = FONT_FOR_LANGUAGE.get(self.language, "KioskSC")


theme = Theme()
