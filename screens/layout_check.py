"""Find text that a resident cannot read whole: shortened with "...", lines dropped,
or drawn outside its own widget (where a neighbour or the window edge cuts it); and
boxes whose content does not fit, so that it spills over its neighbours.

Used by ``kiosk --tour`` (one warning per problem in the log, next to the PNGs) and
by the UI tests.  Reads Kivy's own layout of each label (the core label's
``is_shortened`` and laid-out lines), so it sees what was rendered, not a guess.
"""
from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

SLACK_PX = 2


def _rendered_text(label: Label) -> str:
    core = label._label
    lines = getattr(core, "_cached_lines", None) or []
    return "".join(word.text for line in lines for word in line.words)


def _broken_word(label: Label) -> str:
    """A Latin word or a number that Kivy split over two lines for lack of width
    ("Complai / nt"), or "" (Chinese text may break between any two characters)."""
    core = label._label
    text = label.text
    lines = ["".join(word.text for word in line.words).strip()
             for line in getattr(core, "_cached_lines", None) or []]
    end = None   # where the previous line ended in the text
    for upper, lower in zip([""] + lines, lines):
        start = text.find(lower, end or 0) if lower else -1
        if start < 0:
            end = None
            continue
        if end == start and upper and upper[-1].isascii() and upper[-1].isalnum() \
                and lower[0].isascii() and lower[0].isalnum():   # no space between: one word
            return upper.split()[-1] + " / " + lower.split()[0]
        end = start + len(lower)
    return ""


def _visible(widget) -> bool:
    return widget.opacity > 0.05 and widget.width > 1 and widget.height > 1


def label_problems(label: Label) -> list[str]:
    """What is wrong with how ``label`` shows its text (empty: it is read whole)."""
    text = label.text
    if not text.strip() or label._label is None:
        return []
    problems = []
    core = label._label
    if getattr(core, "is_shortened", False):
        # a teaser may end in "…" on purpose (ellipsis_ok: True in its kv rule); nothing else
        if not (getattr(label, "ellipsis_ok", False) and label.shorten_from == "right"):
            problems.append("shortened")
    elif label.markup:
        pass  # markup labels lay out spans differently; the size check below still applies
    else:
        shown = "".join(_rendered_text(label).split())
        if len(shown) < len("".join(text.split())):
            problems.append("lines dropped")
    broken = "" if label.markup else _broken_word(label)
    if broken:
        problems.append(f"word broken over two lines: {broken}")
    # text_size given: the texture is cut to it, and whatever did not fit is not drawn
    iw, ih = getattr(core, "_internal_size", (0, 0))
    uw, uh = label.text_size
    if (uh is not None and ih > uh + SLACK_PX) or (uw is not None and iw > uw + SLACK_PX):
        problems.append(f"text needs {iw:.0f}x{ih:.0f}, cut to {uw or 0:.0f}x{uh or 0:.0f}")
    tw, th = label.texture_size
    if tw > label.width + SLACK_PX or th > label.height + SLACK_PX:
        problems.append(f"text {tw:.0f}x{th:.0f} overflows its {label.width:.0f}x{label.height:.0f} box")
    return problems


def cut_labels(root) -> list[str]:
    """Every visible label under ``root`` whose text is not shown whole, as one line each.

    Content inside a ScrollView is checked too (it scrolls, but a label in it must still
    fit its own box); widgets hidden with opacity 0 or a zero size are skipped.
    """
    found: list[str] = []

    def visit(widget) -> None:
        if not _visible(widget) and not isinstance(widget, ScrollView):
            return
        if isinstance(widget, Label):
            for problem in label_problems(widget):
                found.append(f"{type(widget).__name__} {widget.text[:40]!r}: {problem}")
        for child in widget.children:
            visit(child)

    visit(root)
    return found


def _name(widget) -> str:
    text = getattr(widget, "text", "")
    return f"{type(widget).__name__} {text[:30]!r}" if isinstance(text, str) and text else type(widget).__name__


def spilled_boxes(root) -> list[str]:
    """Box and grid layouts whose children stick out of them: their content needs more
    room than they got, and overlaps what is next to them.  Content that scrolls is
    exempt (a ScrollView's content is larger by design)."""
    found: list[str] = []

    def visit(widget, scrolled: bool) -> None:
        if not _visible(widget):
            return
        if isinstance(widget, (BoxLayout, GridLayout)) and not scrolled:
            for child in widget.children:
                if not _visible(child):
                    continue
                if (child.y < widget.y - SLACK_PX or child.top > widget.top + SLACK_PX
                        or child.x < widget.x - SLACK_PX or child.right > widget.right + SLACK_PX):
                    found.append(f"{_name(child)} sticks out of {_name(widget)} "
                                 f"({child.width:.0f}x{child.height:.0f} at {child.x:.0f},{child.y:.0f} "
                                 f"in {widget.width:.0f}x{widget.height:.0f} at {widget.x:.0f},{widget.y:.0f})")
                    break
        for child in widget.children:
            visit(child, isinstance(widget, ScrollView))

    visit(root, False)
    return found
