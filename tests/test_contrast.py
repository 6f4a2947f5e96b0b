"""Contrast (WCAG 2.x relative luminance) of every text/background pair the theme defines
(screens/theme.py TEXT_PAIRS, the home tiles): at least 4.5:1 in the standard palette and 7:1
in 长辈模式 (MIIT 适老化 rules; issue 14).  Kivy-free: the palettes are plain hex strings."""
from __future__ import annotations

import pytest

from screens.theme import CONTRAST_MIN, PALETTES, TEXT_PAIRS, TILE_COLOURS


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))


def luminance(rgb) -> float:
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(text: str, background: str, alpha: float = 1.0) -> float:
    """The ratio of ``text`` (drawn with ``alpha`` over ``background``) to the background."""
    fg, bg = _rgb(text), _rgb(background)
    shown = [alpha * f + (1 - alpha) * b for f, b in zip(fg, bg)]
    high, low = sorted((luminance(shown), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_ratio_is_wcags():
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)     # the classic near miss
    assert contrast("#FFFFFF", "#000000", alpha=0.5) == pytest.approx(5.28, abs=0.02)


@pytest.mark.parametrize("mode", ["standard", "elder"])
def test_every_text_background_pair_of_the_theme_is_readable(mode):
    palette, minimum = PALETTES[mode], CONTRAST_MIN[mode]
    failing = [f"{fg} on {bg}{'' if alpha == 1 else f' at {alpha:.0%}'}: "
               f"{contrast(palette[fg], palette[bg][:7], alpha):.2f}:1"
               for fg, bg, alpha in TEXT_PAIRS if contrast(palette[fg], palette[bg][:7], alpha) < minimum]
    assert not failing, f"{mode} palette below {minimum}:1: " + "; ".join(failing)


@pytest.mark.parametrize("mode", ["standard", "elder"])
def test_home_tiles_carry_white_titles_readably(mode):
    minimum, white = CONTRAST_MIN[mode], PALETTES[mode]["text_on_primary"]
    failing = {name: round(contrast(white, colour), 2) for name, colour in TILE_COLOURS[mode].items()
               if contrast(white, colour) < minimum}
    assert not failing, failing
    if mode == "standard":     # the subtitle line (white at 88 %) shows in the standard palette only
        assert all(contrast(white, colour, 0.88) >= minimum for colour in TILE_COLOURS[mode].values())


def test_every_pair_names_colours_both_palettes_have():
    for fg, bg, alpha in TEXT_PAIRS:
        assert 0 < alpha <= 1
        for palette in PALETTES.values():
            assert fg in palette and bg in palette, (fg, bg)
    assert set(TILE_COLOURS["standard"]) == set(TILE_COLOURS["elder"])
