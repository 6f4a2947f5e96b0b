"""Cold start to the first drawn frame: the kiosk's home screen vs a bare Kivy window.

Each run is a fresh Python process, timed from spawning it to the child
reporting a buffer swap: the first frame of the home screen (header, ID card
entry; the kiosk core -- devices, queue, menu verification -- starts in the
background right after it), and the first frame that shows the service
categories from the verified menu.  The bare window is the same measurement
for an App whose root is an empty Widget.
Runs alternate kiosk/bare so both see the same machine load; medians reported.

Needs a display (``make bench`` runs under xvfb-run).
Child mode: ``python -m bench.bench_startup --child kiosk|bare DATA_DIR``.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 1.0
GOAL_RATIO = 1.5
HOME, MENU = "FIRST_HOME_FRAME", "FIRST_MENU_FRAME"


def _child(kind: str, data_dir: str) -> None:
    """Run one app; print the marker at its first frame showing content, then exit at once."""
    from kiosk import config as cfg
    from screens.bootstrap import configure_kivy

    config = cfg.parse(f'[kiosk]\ndata_dir = "{data_dir}"\n', "bench", ROOT)
    configure_kivy(config)
    from kivy.app import App
    from kivy.core.window import Window
    from kivy.uix.widget import Widget

    if kind == "kiosk":
        from screens.app import KioskApp
        app = KioskApp(config)
    else:
        class BareApp(App):
            def build(self):
                return Widget()
        app = BareApp()

    seen = set()
    flips = [0]

    def on_flip(*_args):
        if app.root is None or not getattr(app, "_running", True):
            return
        flips[0] += 1
        if kind == "bare":
            print(HOME, MENU, flush=True)
            os._exit(0)  # the figure is the first frame; teardown is not measured
        if app.manager.current == "home" and HOME not in seen:
            seen.add(HOME)
            print(HOME, f"frame={flips[0]}", flush=True)
        if app.screen("home").ids.categories.children:
            print(MENU, f"frame={flips[0]}", flush=True)
            os._exit(0)
    Window.bind(on_flip=on_flip)
    app.run()


def _measure(kind: str, data_dir: str) -> tuple[float, float]:
    """Seconds to the first home frame and to the first frame with the menu."""
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_HOME=str(Path(data_dir) / "kivy"))
    env.pop("KIOSK_SCREENSHOT_DIR", None)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "bench.bench_startup", "--child", kind, data_dir],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    times: dict[str, float] = {}
    try:
        for line in proc.stdout:
            for marker in line.split():
                times.setdefault(marker, time.perf_counter() - started)
            if MENU in times:
                break
        else:
            raise RuntimeError(f"{kind} start-up never drew its frames (exit {proc.wait()})")
    finally:
        proc.kill()
        proc.wait()
    return times[HOME], times[MENU]


def run(quick: bool = False) -> list[dict]:
    runs = 5 if quick else 7
    kiosk_s, menu_s, bare_s = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        _measure("kiosk", tmp)  # warm the OS file cache once: "cold" = fresh process, not cold disk
        for _ in range(runs):
            home, with_menu = _measure("kiosk", tmp)
            kiosk_s.append(home)
            menu_s.append(with_menu)
            bare_s.append(_measure("bare", tmp)[0])
    kiosk, bare, with_menu = (statistics.median(x) for x in (kiosk_s, bare_s, menu_s))
    ratio, menu_ratio = kiosk / bare, with_menu / bare
    spread = f"kiosk runs {min(kiosk_s):.2f}-{max(kiosk_s):.2f} s, bare {min(bare_s):.2f}-{max(bare_s):.2f} s"
    return [
        {"name": "startup: first frame of the home screen", "value": round(kiosk, 3), "unit": "s",
         "goal": f"<= {GOAL_S} s", "ok": kiosk <= GOAL_S, "detail": f"median of {runs}; {spread}"},
        {"name": "startup: first frame of a bare Kivy window", "value": round(bare, 3), "unit": "s",
         "goal": "", "ok": None, "detail": f"median of {runs}, same run, alternating"},
        {"name": "startup: home screen / bare window", "value": round(ratio, 2), "unit": "x",
         "goal": f"<= {GOAL_RATIO}x", "ok": ratio <= GOAL_RATIO, "detail": "ratio of the medians"},
        {"name": "startup: first frame with the service categories", "value": round(with_menu, 3),
         "unit": "s", "goal": f"<= {GOAL_RATIO}x bare ({GOAL_RATIO * bare:.2f} s)", "ok": menu_ratio <= GOAL_RATIO,
         "detail": f"median of {runs}; {menu_ratio:.2f}x the bare window; tiles from the glance of the last "
                   "verified menu (kiosk/menu_glance.py), the core starts in the background"},
    ]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        for figure in run(quick="--quick" in sys.argv):
            print(figure)
