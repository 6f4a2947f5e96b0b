"""Work-arounds for Kivy behaviour that grows without bound in a kiosk that runs for weeks.

* Kivy 2.3.1's ``ScrollView.update_from_scroll`` ``fbind``s ``bar_color`` on every call
  (every scroll, resize and content change) and unbinds one observer at most every 0.5 s,
  so the persistent ScrollViews (guide, category, form) gained observers every session
  (the issue saw ~25 a session; bench/bench_soak.py measured ~125).  Unbinding before Kivy binds keeps exactly one.
"""
from __future__ import annotations


def apply() -> None:
    """Idempotent; called before the first widget is built (screens.widgets.load_kv)."""
    from kivy.uix.scrollview import ScrollView

    original = ScrollView.update_from_scroll
    if getattr(original, "kiosk_fixed", False):
        return

    def update_from_scroll(self, *largs):
        self.funbind("bar_color", self._change_bar_color)   # Kivy binds it again below: one observer
        return original(self, *largs)

    update_from_scroll.kiosk_fixed = True
    update_from_scroll.__doc__ = original.__doc__
    ScrollView.update_from_scroll = update_from_scroll
