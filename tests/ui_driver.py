"""Driving the real kiosk app like a resident: frames, waits, taps, strokes, and a
scan of what the UI still holds.  The one copy every UI test module uses."""
from __future__ import annotations

import gc
import time
import types
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

LANDSCAPE = (1920, 1080)


@contextmanager
def app_on_the_reference_platform(tmp, kiosk_id: str, timeout_s: float = 3.0, debug_logs: bool = False,
                                  ready=lambda app: app.menu is not None):
    """(app, platform): the reference platform on loopback, and the real app with simulated
    devices, the sample menu and a quick queue, enrolled to it; ``debug_logs`` writes the
    JSON-lines logs a kiosk writes (at DEBUG)."""
    from central.testing import run_server
    from kiosk import config as cfg
    from kiosk.core import KioskCore
    from kiosk.platform import PlatformClient

    bundle = Path(__file__).resolve().parent.parent / "assets" / "menus" / "sample.bundle"
    with run_server(tmp / "central.db", kiosk_id=kiosk_id) as platform:
        path = tmp / "kiosk.toml"
        path.write_text(f'[kiosk]\nid = "{kiosk_id}"\ndata_dir = "{tmp / "var"}"\n'
                        f'[platform]\nurl = "{platform.base_url}"\ntimeout_s = {timeout_s}\n'
                        f"[queue]\nbackoff_base_s = 0.1\nbackoff_cap_s = 0.5\nmin_free_mb = 1\n"
                        f"[heartbeat]\nenabled = false\n"
                        f'[menu]\nbundle = "{bundle}"\n', encoding="utf-8")
        config = cfg.load(path)
        if debug_logs:
            from kiosk import logs
            logs.setup(config.data_dir / "logs", level="DEBUG", console=False)
        core = KioskCore(config)
        core.platform = PlatformClient(platform.base_url, token=platform.token, timeout=timeout_s)
        with running_app(config, core=core) as app:
            until(lambda: ready(app), what="the menu")
            pump_for(0.5)
            yield app, platform


@contextmanager
def running_app(config, core=None):
    """The real KioskApp on an embedded event loop (one window per process: UI modules
    take turns), in a landscape window; stopped and shut down afterwards."""
    from screens.bootstrap import configure_kivy
    configure_kivy(config)
    from kivy.base import EventLoop, runTouchApp
    from kivy.core.window import Window
    # Kivy keeps unused RecycleView rows in one module-level cache: rows an earlier
    # module's app built (bound to that app's language) must not be reused by this one
    from kivy.uix.recycleview import views as recycled

    from screens.app import KioskApp
    recycled._cached_views.clear()
    recycled._cache_count = 0
    gc.collect()
    app = KioskApp(config, core=core)
    app._run_prepare()
    runTouchApp(embedded=True)
    # An earlier module's app.stop() before its loop ever started leaves a deferred
    # stopTouchApp() on the Clock; it closes this loop on the first tick, and a closed
    # loop never runs the before-draw triggers (labels keep stale textures).
    pump(3)
    if EventLoop.quit:
        runTouchApp(embedded=True)
    assert EventLoop.status == "started" and not EventLoop.quit
    Window.size = LANDSCAPE                     # whatever an earlier UI module left
    try:
        yield app
    finally:
        app.stop()
        app.shutdown()


def reset(app) -> None:
    """Back to the attract screen in the defaults: no overlay, no session, standard mode,
    the configured language.  Run after every UI test (tests/conftest.py), so one that
    fails half-way does not fail the rest."""
    from screens.theme import theme
    app.close_overlay()
    app.go_home("finished")
    theme.elder = app.kiosk_config.display.elder_mode_default
    app.set_language(app.kiosk_config.display.language)
    pump(5)


def pump(frames: int = 1) -> None:
    """Run ``frames`` iterations of Kivy's event loop."""
    from kivy.base import EventLoop
    for _ in range(frames):
        EventLoop.idle()


def pump_for(seconds: float) -> None:
    """Run Kivy's event loop for ``seconds`` of wall time (a worker answers meanwhile)."""
    from kivy.base import EventLoop
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        EventLoop.idle()


def until(predicate, timeout: float = 15.0, what: str = "condition") -> None:
    """Pump frames until ``predicate()`` holds; fail naming ``what`` after ``timeout``."""
    from kivy.base import EventLoop
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        EventLoop.idle()


def tap(widget) -> None:
    """A finger's press and release on the middle of ``widget``, through the window.
    Waits for a screen fade first: taps during a transition are ignored."""
    from kivy.app import App
    from kivy.tests.common import UnitTestTouch
    assert not widget.disabled, f"{widget} is disabled"
    app = App.get_running_app()
    if app is not None and getattr(app, "manager", None) is not None:
        until(lambda: not app.manager.transition.is_active, 5, "the screen transition")
    x, y = widget.to_window(*widget.center)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    pump()
    touch.touch_up()
    pump(3)


def drag(widget, path) -> None:
    """A stroke through ``path`` (fractions of the widget) with one finger."""
    from kivy.tests.common import UnitTestTouch
    points = [widget.to_window(widget.x + fx * widget.width, widget.y + fy * widget.height) for fx, fy in path]
    touch = UnitTestTouch(*points[0])
    touch.touch_down()
    for x, y in points[1:]:
        touch.touch_move(x, y)
        pump()
    touch.touch_up()
    pump(3)


def walk(widget) -> Iterator:
    """The widget and all its descendants."""
    yield widget
    for child in widget.children:
        yield from walk(child)


def current(app):
    return app.manager.current_screen


def on_screen(app, name: str, timeout: float = 15.0) -> None:
    """Wait until ``name`` is shown, its fade-in is over and no message covers it."""
    until(lambda: app.manager.current == name and not app.manager.transition.is_active
          and app.overlay is None, timeout, f"screen {name} (now {app.manager.current}, overlay {app.overlay})")
    pump(3)


def press_digits(pad, digits: str) -> None:
    for digit in digits:
        tap(next(k for k in pad.children if k.text == digit))


# -- what the UI still holds -------------------------------------------------------------------
_NOT_FOLLOWED = (types.ModuleType, type, types.CodeType, types.FrameType)


def _is_core_part(obj) -> bool:
    """The core and its device owners, any app's (the UI tests run several apps in one
    process, and a Kivy property or bound method may still reach an earlier one's core):
    the core holds the devices, and the simulated card lying on the reader is hardware,
    not the UI's memory.  What the core keeps of a resident is tested on the core."""
    from kiosk.capture import Captures
    from kiosk.core import KioskCore
    return isinstance(obj, (Captures, KioskCore))


def resident_traces(app, secrets: Iterable[str]) -> list[str]:
    """Where in the UI (screens, widgets, their Kivy properties, closures, containers) any of
    ``secrets`` is still held: every object reachable from the app and its screens except
    the core (which rightly holds the devices -- a card lying on the reader -- and the
    encrypted queue).  Modules, classes and code are not followed (the test's own
    constants are not the UI's memory)."""
    from kivy.uix.widget import Widget

    secrets = [s for s in secrets if s]
    core = getattr(app, "_core", None)
    skip = {id(core), id(getattr(core, "bus", None)), id(getattr(core, "captures", None))}
    found: list[str] = []
    seen: set[int] = set()
    # (object, the chain of holders that reached it: the failure message names the path)
    stack: list[tuple[object, tuple[str, ...]]] = [(app, ("app",))]
    stack += [(screen, (f"screen {screen.name}",)) for screen in app.manager.screens]
    while stack:
        obj, path = stack.pop()
        try:
            if id(obj) in seen or id(obj) in skip or isinstance(obj, _NOT_FOLLOWED) or _is_core_part(obj):
                continue
        except ReferenceError:   # a weak proxy whose widget is gone: it holds nothing
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            if any(s in obj for s in secrets):
                found.append(f"{' > '.join(path[-5:])}: {obj[:60]!r}")
            continue
        if isinstance(obj, (bytes, bytearray, int, float, bool)) or obj is None:
            continue
        if isinstance(obj, types.FunctionType):
            stack += [(cell.cell_contents, path + (f"closure of {obj.__qualname__}",))
                      for cell in obj.__closure__ or () if _cell_filled(cell)]
            stack += [(v, path + (f"default of {obj.__qualname__}",)) for v in obj.__defaults__ or ()]
            continue
        if isinstance(obj, Widget):
            label = obj.__class__.__name__
            for name in obj.properties():
                try:
                    stack.append((getattr(obj, name), path + (f"{label}.{name}",)))
                except Exception:   # a property whose getter needs a window
                    continue
            stack += [(child, path + (label,)) for child in obj.children]
        if isinstance(obj, dict):
            stack += [(v, path + (f"[{k!r}]",)) for k, v in obj.items()] + [(k, path) for k in obj]
            continue
        stack += [(ref, path + (obj.__class__.__name__,)) for ref in gc.get_referents(obj)]
    return found


def _cell_filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True
