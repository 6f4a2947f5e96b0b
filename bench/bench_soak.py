"""Soak: the real app through back-to-back resident sessions, its resources sampled every 10.

A child process (one Kivy window per process) runs the real KioskApp under the
display ``make bench`` provides (Xvfb), with simulated devices and the reference
platform on a loopback port, and drives it with touches as the UI tests do
(tests/ui_driver.py) through a repeating mix of sessions:

* a full 敬老优待证 application (card, face check, form, document capture, signature,
  pickup, submission, receipt, rating);
* 证照打印 by card (a newly approved document printed on the file-backed licence printer);
* 办件查询 by a typed application number;
* an appeal (诉求) with a phrase and a phone number;
* language and 长辈模式 switches while browsing, then a session abandoned on a service
  guide, ended by the idle timeout (shortened).

Every 10 sessions it records RSS, threads, open fds, live widgets, live ``Line``
instructions, ScrollView ``bar_color`` observers, glibc's in-use and free-but-held heap
(``mallinfo2``), files under the session and temp directories and the size of the
data directory.  Figures: growth per 100 sessions after the warm-up (least-squares
slope over the samples after it), RSS after start, and whether any resident's name or
ID number is readable anywhere under the data directory after the soak.

``make bench BENCH_ARGS="--only soak"``; ``python -m bench.bench_soak --sessions 300``
for a long run (prints the table of samples).
Child mode: ``python -m bench.bench_soak --child DIR --sessions N``.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARD = ROOT / "assets" / "cards" / "resident_elderly.json"
SESSIONS, QUICK_SESSIONS, WARM_UP, EVERY = 30, 20, 10, 10
IDLE_S, COUNTDOWN_S = 2, 2          # the abandoned session's idle timer (the others keep the configured one)
GOAL_RSS_MB = 2.0
STARTED = time.monotonic()


# -- measuring ---------------------------------------------------------------------------------
class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def mallinfo() -> tuple[float, float]:
    """glibc's heap (MB): in use, and free but held by the allocator; (nan, nan) elsewhere."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return float("nan"), float("nan")
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def files_under(path: Path) -> int:
    return sum(1 for p in Path(path).rglob("*") if p.is_file()) if Path(path).exists() else 0


def size_kb(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1024


def sample(app, sessions: int, data_dir: Path) -> dict:
    from kivy.graphics import Line
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.widget import Widget

    gc.collect()
    objects = gc.get_objects()
    widgets = [o for o in objects if isinstance(o, Widget)]
    observers = sum(len(w.get_property_observers("bar_color")) for w in widgets if isinstance(w, ScrollView))
    lines = sum(1 for o in objects if isinstance(o, Line))
    del objects
    in_use, held = mallinfo()
    parts = {p.name: round(size_kb(p), 1) for p in data_dir.iterdir() if p.is_dir()}
    return {"sessions": sessions, "t_s": round(time.monotonic() - STARTED, 1), "rss_mb": round(rss_mb(), 1), "threads": threading.active_count(),
            "fds": len(os.listdir("/proc/self/fd")), "widgets": len(widgets), "lines": lines,
            "bar_color_observers": observers, "heap_in_use_mb": round(in_use, 1), "heap_free_held_mb": round(held, 1),
            "session_files": files_under(app.core.session_files.root), "temp_files": files_under(tempfile.gettempdir()),
            "data_kb": round(size_kb(data_dir), 1), "data_parts_kb": parts}


# -- the resident's sessions -----------------------------------------------------------------------
class Soak:
    def __init__(self, app, platform):
        from tests import ui_driver
        self.app, self.platform, self.ui = app, platform, ui_driver
        self.card = json.loads(CARD.read_text(encoding="utf-8"))
        self.seq = 0

    # each returns when the kiosk is back on the home screen with no session
    def application(self) -> None:
        ui, app = self.ui, self.app
        self._start_service("elderly-card")
        self._read_card()
        ui.on_screen(app, "face")
        ui.until(lambda: app.manager.current == "form", 60, "identity verified")
        form = ui.current(app)
        ui.pump_for(0.3)
        ui.tap(form.rows["phone"].ids.value)
        ui.pump_for(0.2)   # a returning resident is offered the number on record (材料复用) first
        reuse = next((w for w in form.ids.editor.children if getattr(w, "text", "").startswith("使用此号码")), None)
        if reuse is not None:
            ui.tap(reuse)
        else:
            pad = next(w for w in form.ids.editor.children if w.__class__.__name__ == "DigitPad")
            for digit in "13812345678":
                ui.tap(next(k for k in pad.children if k.text == digit))
        form.ids.scroll.scroll_to(form.rows["address"], animate=False)
        ui.pump_for(0.2)
        ui.tap(form.rows["address"].ids.value)
        ui.tap(next(w for w in form.ids.editor.children if "身份证" in getattr(w, "text", "")))
        ui.tap(form.ids.next_button)
        ui.on_screen(app, "materials")
        materials = ui.current(app)
        ui.until(lambda: materials.pages >= 1, 30, "the page to be auto-captured")
        ui.tap(materials.ids.next_button)
        ui.tap(materials.ids.next_button)            # 跳过，稍后补交
        ui.on_screen(app, "sign")
        sign = ui.current(app)
        ui.drag(sign.ids.pad, [(0.2 + i * 0.03, 0.4 + (i % 3) * 0.1) for i in range(15)])
        ui.tap(sign.ids.confirm)
        ui.on_screen(app, "delivery")
        delivery = ui.current(app)
        ui.tap(next(w for w in delivery.ids.methods.children if w.value == "pickup"))
        ui.tap(delivery.ids.details.children[-1])
        ui.tap(delivery.ids.next_button)
        ui.on_screen(app, "confirm")
        ui.tap(ui.current(app).ids.submit)
        ui.on_screen(app, "result", 30)
        ui.tap(ui.current(app).ids.done)
        ui.on_screen(app, "rating")
        rating = ui.current(app)
        ui.tap(next(w for w in rating.ids.levels.children if w.value == 5))
        ui.tap(rating.ids.submit)
        ui.until(lambda: rating.sent, 10, "the rating to be queued")
        ui.tap(rating.ids.finish)
        self._home()

    def licence(self) -> None:
        ui, app = self.ui, self.app
        self._issue_document()
        self._start_service("social-insurance-proof-print")
        self._read_card()
        ui.on_screen(app, "print_document", 60)
        screen = ui.current(app)
        ui.until(lambda: screen.state == "list", 30, "the document list")
        ui.pump_for(0.3)
        ui.tap(next(b for b in screen.ids.documents.children if "社会保险参保证明" in b.text))
        ui.until(lambda: screen.state in ("printed", "failed"), 120, "the licence to print")
        if screen.state != "printed":
            raise RuntimeError(f"licence not printed: {screen.message}")
        ui.tap(app.header.ids.finish_button)
        self._home()

    def query(self) -> None:
        ui, app = self.ui, self.app
        self.seq += 1
        number = app.core.platform.create_application(
            {"service_id": "elderly-card", "applicant": {"name": self.card["name"], "id_number": self.card["id_number"]},
             "form": {}, "materials": [], "delivery": {"method": "pickup"}, "submitted_at": None, "offline": False},
            f"soak-query-{os.getpid()}-{self.seq}")["application_no"]
        self._start_service("application-progress")
        self._read_card()
        ui.until(lambda: app.manager.current == "query" and not app.manager.transition.is_active, 60,
                 "the query screen")
        query = ui.current(app)
        pad = next(w for w in query.walk() if w.__class__.__name__ == "DigitPad")
        ui.tap(next(k for k in pad.children if k.text == "清空"))
        ui.press_digits(pad, number)
        ui.tap(query.ids.look_up)
        ui.until(lambda: query.state == "found", 20, "the status")
        ui.tap(app.header.ids.finish_button)
        self._home()

    def appeal(self) -> None:
        ui, app = self.ui, self.app
        self._start_service("appeal")
        ui.on_screen(app, "appeal")
        appeal = ui.current(app)
        ui.tap(next(w for w in appeal.ids.categories.children if w.value == "complaint"))
        ui.tap(next(w for w in appeal.ids.phrases.children if w.value == "办事等候时间太长"))
        pad = next(w for w in appeal.walk() if w.__class__.__name__ == "DigitPad")
        ui.press_digits(pad, "13812345678")
        ui.tap(appeal.ids.submit)
        ui.until(lambda: appeal.state == "sent", 20, "the appeal to be sent")
        ui.until(lambda: app.overlay is not None, 5, "the appeal's reference")
        ui.tap(app.overlay.ids.primary)              # 结束
        self._home()

    def abandoned(self) -> None:
        """A resident switches language and 长辈模式 while browsing, then walks away from a
        service guide: the idle timeout ends the session (and restores the defaults)."""
        from screens.theme import theme
        ui, app = self.ui, self.app
        def switch(language: str, elder: bool) -> None:
            app.set_language(language)
            if theme.elder != elder:
                app.toggle_elder_mode()
            ui.pump(3)
        for language, elder in (("zh_TW", True), ("en", False)):
            switch(language, elder)                  # on the home screen
            ui.tap(self._tiles()[1])
            ui.on_screen(app, "category")
            switch("zh_CN", not elder)               # and live, in the session
            ui.pump_for(0.2)
            app.go_home("finished")
            ui.pump(5)
        switch("zh_TW", True)
        ui.tap(self._tiles()[0])
        ui.on_screen(app, "category")
        ui.tap(self._service_rows()[0])
        ui.on_screen(app, "guide")
        app.idle.idle_s, app.idle.countdown_s = IDLE_S, COUNTDOWN_S   # shortened: the soak has no minute to spare
        ui.until(lambda: app.manager.current == "home" and app.core.session is None,
                 (IDLE_S + COUNTDOWN_S) * 4 + 10, "the idle timeout")
        ui.pump(5)
        if app.language != "zh_CN" or theme.elder:
            raise RuntimeError("the idle timeout did not restore the default language and mode")

    # five kinds: every 10 sessions the sample follows the same kind of session
    MIX = ("application", "licence", "query", "appeal", "abandoned")

    # -- helpers ---------------------------------------------------------------------------------
    def _tiles(self):
        from screens.widgets import IconTile
        home = self.app.screen("home")
        return [w for w in reversed(home.ids.categories.children) if isinstance(w, IconTile)]

    def _service_rows(self):
        from screens.category import ServiceRow
        self.ui.pump(3)
        rows = [w for w in self.ui.walk(self.ui.current(self.app).ids.services) if isinstance(w, ServiceRow)]
        return sorted(rows, key=lambda r: -r.y)

    def _start_service(self, service_id: str) -> None:
        ui, app = self.ui, self.app
        service = app.menu.service(service_id)
        category = next(c for c in app.menu.categories if service in c.services)
        ui.tap(next(t for t in self._tiles() if t.category_id == category.id))
        ui.on_screen(app, "category")
        app.show("guide", service_id=service_id)
        ui.on_screen(app, "guide")
        ui.tap(ui.current(app).ids.start)

    def _read_card(self) -> None:
        ui, app = self.ui, self.app
        ui.on_screen(app, "identify")
        reader = app.core.devices["id_reader"]
        reader.simulator.remove_card()
        ui.until(lambda: not reader._card_present, 5, "the reader to notice no card")
        reader.simulator.place_card(self.card)
        ui.until(lambda: app.manager.current != "identify", 20, "the card to be read")

    def _issue_document(self) -> None:
        """An officer approves a new 社会保险参保证明 for the resident: a document to print."""
        import base64

        from central.admin import approve_application
        from central.devseed import sample_applications
        from central.intake import intake
        from central.schemas import ApplicationRequest
        from central.storage import canonical_hash

        self.seq += 1
        store, kiosk_id = self.platform.store, self.platform.kiosk_id
        key, payload = f"soak-licence-{os.getpid()}-{self.seq}", dict(sample_applications(self.card))[
            "dev-seed-social-insurance"]
        store.claim_key(kiosk_id, "applications", key, canonical_hash(payload))
        body = ApplicationRequest.model_validate(payload)
        decoded = [(m, [(p.sha256, base64.b64decode(p.content_b64)) for p in m.pages]) for m in body.materials]
        with store.write():
            response = intake(store, kiosk_id, key, body, decoded)
            store.finish_key(kiosk_id, "applications", key, 201, response)
        approve_application(store, response["application_no"])

    def _home(self) -> None:
        self.ui.until(lambda: self.app.manager.current == "home" and self.app.core.session is None, 15,
                      "the home screen")
        self.ui.pump(3)


def resident_traces(data_dir: Path, card: dict) -> list[str]:
    """Files under ``data_dir`` in which the resident's name or ID number can be read."""
    name, number = card["name"], card["id_number"]
    needles = {name.encode("utf-8"), name.encode("utf-16-le"), name.encode("gb18030"),
               number.encode("ascii"), number.encode("utf-16-le")}
    found = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix == ".pdf" and shutil.which("pdftotext"):
            data += subprocess.run(["pdftotext", str(path), "-"], capture_output=True).stdout
        if any(n in data for n in needles):
            found.append(str(path.relative_to(data_dir)))
    return found


def _child(workdir: str, sessions: int) -> None:
    from central.testing import run_server
    from kiosk import config as cfg
    from kiosk import logs
    from kiosk.core import KioskCore
    from kiosk.platform import PlatformClient
    from tests import ui_driver as ui

    work = Path(workdir)
    data_dir = work / "var"
    with run_server(work / "central.db", kiosk_id="soak-kiosk") as platform:
        path = work / "kiosk.toml"
        path.write_text(f'[kiosk]\nid = "soak-kiosk"\ndata_dir = "{data_dir}"\n'
                        f'[platform]\nurl = "{platform.base_url}"\ntimeout_s = 5.0\n'
                        f"[queue]\nbackoff_base_s = 0.1\nbackoff_cap_s = 0.5\nmin_free_mb = 1\n"
                        f"[heartbeat]\nenabled = false\n"
                        # licence PDFs carry the name in clear: short retention so the check below can wait it out
                        f'[devices.licence_printer]\ndriver = "file"\nretention_min = 0.25\n'
                        f'[menu]\nbundle = "{ROOT / "assets" / "menus" / "sample.bundle"}"\n', encoding="utf-8")
        config = cfg.load(path)
        logs.setup(config.data_dir / "logs", level="INFO", console=False)   # what a kiosk writes
        core = KioskCore(config)
        core.platform = PlatformClient(platform.base_url, token=platform.token, timeout=5.0)
        with ui.running_app(config, core=core) as app:
            ui.until(lambda: app.core_ready and app.menu is not None, 60, "the core")
            from devices.printers.fonts import pdf_fonts
            fonts = pdf_fonts(str(config.data_dir / "cache" / "fonts"))
            ui.until(lambda: fonts.ready, 120, "the background font build")   # a kiosk idle after start
            ui.pump_for(2)
            started = sample(app, 0, data_dir)
            print("SAMPLE " + json.dumps(started), flush=True)
            soak = Soak(app, platform)
            failures = []
            for n in range(1, sessions + 1):
                kind = Soak.MIX[(n - 1) % len(Soak.MIX)]
                try:
                    getattr(soak, kind)()
                except Exception as exc:   # a session that failed is counted and the soak goes on
                    failures.append(f"session {n} ({kind}): {exc}")
                    print(f"FAIL session {n} ({kind}): {exc!r}", file=sys.stderr, flush=True)
                    traceback.print_exc()
                    app.close_overlay()
                    app.go_home("finished")
                    ui.pump(5)
                if n % EVERY == 0:
                    ui.pump_for(3)   # between residents: the session's background trim had its chance
                    print("SAMPLE " + json.dumps(sample(app, n, data_dir)), flush=True)
            prints = data_dir / "prints"
            ui.until(lambda: not any(prints.glob("*.pdf")), 60, "the licence PDFs' retention")
            traces = resident_traces(data_dir, soak.card)
            print("END " + json.dumps({"sessions": sessions, "failures": failures, "traces": traces,
                                       "log_kb": round(size_kb(data_dir / "logs"), 1)}), flush=True)
    os._exit(0)   # the figures are taken; Kivy's teardown is not part of them


# -- the parent: figures -------------------------------------------------------------------------------
def _slope(points: list[tuple[float, float]]) -> float:
    n = len(points)
    if n < 2:
        return float("nan")
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else float("nan")


def soak(sessions: int, keep: bool = False) -> tuple[list[dict], dict]:
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    tmp = work / "tmp"
    tmp.mkdir()
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_HOME=str(work / "kivy"), TMPDIR=str(tmp))
    env.pop("KIOSK_SCREENSHOT_DIR", None)
    command = [sys.executable, "-m", "bench.bench_soak", "--child", str(work), "--sessions", str(sessions)]
    if not os.environ.get("DISPLAY"):
        command = ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24 +extension GLX", *command]
    samples, end = [], None
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("SAMPLE "):
                samples.append(json.loads(line[7:]))
                print(f"[soak] {samples[-1]['sessions']} sessions: RSS {samples[-1]['rss_mb']} MB", file=sys.stderr)
            elif line.startswith("END "):
                end = json.loads(line[4:])
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    if end is None:
        raise RuntimeError(f"the soak child ended without its figures (exit {proc.returncode})")
    return samples, end


# goal 0: no new high after the warm-up (the last sample is not above the earlier ones; open fds
# may be one above: a pooled connection to the platform opens and closes with worker threads)
METRICS = (("rss_mb", "RSS", "MB", GOAL_RSS_MB), ("threads", "threads", "", 0), ("fds", "open fds", "", 0),
           ("widgets", "live widgets", "", 0), ("temp_files", "temp files", "", 0),
           ("session_files", "session files", "", 0), ("lines", "live Line instructions", "", None),
           ("bar_color_observers", "ScrollView bar_color observers", "", None),
           ("heap_in_use_mb", "glibc heap in use", "MB", None), ("heap_free_held_mb", "glibc heap free but held", "MB", None),
           ("data_kb", "data directory", "KB", None))


def figures(samples: list[dict], end: dict) -> list[dict]:
    after = [s for s in samples if s["sessions"] >= WARM_UP]
    total = end.get("sessions", samples[-1]["sessions"] if samples else 0)
    span = f"{after[0]['sessions']}-{after[-1]['sessions']}" if after else "-"
    out = []
    first = samples[0] if samples else {}
    out.append({"name": "soak: RSS after start", "value": first.get("rss_mb"), "unit": "MB", "goal": "", "ok": None,
                "detail": f"idle, core started, licence font built: glibc heap in use {first.get('heap_in_use_mb')} MB, "
                          f"free but held {first.get('heap_free_held_mb')} MB, {first.get('widgets')} widgets, "
                          f"{first.get('threads')} threads"})
    for key, label, unit, goal in METRICS:
        growth = _slope([(s["sessions"], s[key]) for s in after]) * 100
        value = round(growth, 2)
        if goal is None:
            ok, goal_text = None, ""
        elif goal == 0:
            tolerance = 1 if key == "fds" else 0
            ok = len(after) < 2 or after[-1][key] <= max(s[key] for s in after[:-1]) + tolerance
            goal_text = "0 (no growth)"
        else:
            ok, goal_text = growth <= goal, f"<= {goal} {unit}"
        out.append({"name": f"soak: {label} growth per 100 sessions", "value": value,
                    "unit": f"{unit}/100 sessions".strip(), "goal": goal_text, "ok": ok,
                    "detail": f"slope over sessions {span} of {total}; {after[0][key]} -> {after[-1][key]}"
                          + (f"; {after[-1]['t_s'] - after[0]['t_s']:.0f} s" if key == "rss_mb" else "")})
    ok_sessions = total - len(end["failures"])
    out.append({"name": "soak: sessions completed", "value": ok_sessions, "unit": f"of {total}",
                "goal": f"{total}", "ok": ok_sessions == total, "detail": "; ".join(end["failures"])[:300]})
    out.append({"name": "soak: resident's name or ID number readable under the data directory",
                "value": len(end["traces"]), "unit": "files", "goal": "0", "ok": not end["traces"],
                "detail": ", ".join(end["traces"])[:300] or "none (UTF-8, UTF-16, GB18030, PDF text)"})
    return out


def run(quick: bool = False, sessions: int | None = None) -> list[dict]:
    samples, end = soak(sessions or (QUICK_SESSIONS if quick else SESSIONS))
    return figures(samples, end)


def print_samples(samples: list[dict]) -> None:
    keys = ["sessions", "t_s", "rss_mb", "heap_in_use_mb", "heap_free_held_mb", "threads", "fds", "widgets", "lines",
            "bar_color_observers", "session_files", "temp_files", "data_kb"]
    print("  ".join(keys))
    for s in samples:
        print("  ".join(str(s[k]).rjust(len(k)) for k in keys))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child")
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--keep", action="store_true", help="keep the soak's directory (data dir, logs)")
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.sessions)
    else:
        samples, end = soak(args.sessions, keep=args.keep)
        print_samples(samples)
        for figure in figures(samples, end):
            print(figure)
