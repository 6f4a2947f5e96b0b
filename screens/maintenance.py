"""维护模式 (maintenance mode) for technicians.

Reached by the shell's hidden corner gesture (five taps in the top-left
corner), which wipes any resident session before showing this screen.  The
PIN pad comes first; five wrong PINs lock entry for a minute, then longer (also across
restarts, see kiosk/pin.py).  Behind it: device statuses, queue depth
and dead letters, menu version and last check, connectivity, heartbeat and
software version, and the actions -- self-test, test receipt, retry queue,
licence-printer calibration, QR enrolment, back to service.

All work is the core's (``KioskCore.maintenance()``, kiosk/maintenance.py): each
action runs off the UI thread and answers through a Future, which
``screens.worker.when_done`` hands back to the Kivy thread.  Left alone for
three minutes, the screen returns to service by itself.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path

from kivy.clock import Clock
from kivy.lang import Builder
from kivy.factory import Factory
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.i18n import N_
from kiosk.calibration import TARGET_MM
from kiosk.maintenance import IDLE_EXIT_S, Maintenance, MaintenanceError
from kiosk.selftest import format_table
from screens.base import KioskScreen
from screens.widgets import tr
from screens.worker import when_done

log = logging.getLogger(__name__)

PIN_MAX = 12
STATE_MARK = {"ready": "●", "busy": "●", "warning": "▲", "fault": "✖", "disconnected": "✖"}


class MaintenancePane(BoxLayout):
    """One of the screen's panes (PIN pad, panel, calibration, enrolment); look in maintenance.kv."""
    screen = ObjectProperty(None)


PANES = {"pin": "MaintenancePinPane", "panel": "MaintenancePanelPane",
         "calibrate": "MaintenanceCalibrationPane", "enrol": "MaintenanceEnrolPane"}


class MaintenanceScreen(KioskScreen):
    help_text = N_("技术人员维护界面。请输入维护密码；完成后按“返回服务”。")
    voice_prompt = None   # the technician's screen is silent
    mode = StringProperty("pin")            # pin | panel | calibrate | enrol
    pin_dots = StringProperty("")
    message = StringProperty("")            # result of the last action / PIN attempt
    busy = BooleanProperty(False)           # an action is running on a worker thread
    overview_text = StringProperty("")
    devices_text = StringProperty("")
    results_text = StringProperty("")
    measured_left = NumericProperty(TARGET_MM)
    measured_top = NumericProperty(TARGET_MM)
    offsets_text = StringProperty("")

    def on_kv_post(self, _base):
        self._pin = ""
        self._last_touch = time.monotonic()
        self._ticker = None
        self._scan_stop = threading.Event()
        self._refreshing = False
        self._panes = {mode: getattr(Factory, cls)(screen=self) for mode, cls in PANES.items()}
        self.on_mode(self, self.mode)

    def on_mode(self, _screen, mode: str) -> None:
        """Show only the pane of ``mode``: hidden panes are removed, so they cannot catch touches."""
        if not hasattr(self, "_panes"):
            return
        body = self.ids.body
        body.clear_widgets()
        body.add_widget(self._panes[mode])

    @property
    def maintenance(self) -> Maintenance:
        return self.app.core.maintenance()

    # -- lifecycle ------------------------------------------------------------------
    def prepare(self, **_params) -> None:
        self._pin, self.pin_dots, self.results_text = "", "", ""
        self.mode = "pin"
        locked = self.maintenance.gate.locked_for()
        self.message = self._locked_text(locked) if locked else ""

    def on_enter(self, *_args):
        self._last_touch = time.monotonic()
        self._ticker = Clock.schedule_interval(self._tick, 1.0)

    def on_leave(self, *_args):
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self._scan_stop.set()
        self._pin = ""

    def on_touch_down(self, touch):
        self._last_touch = time.monotonic()
        return super().on_touch_down(touch)

    def _tick(self, _dt) -> None:
        if time.monotonic() - self._last_touch > IDLE_EXIT_S and not self.busy:
            log.info("maintenance mode idle for %.0f s", IDLE_EXIT_S)
            self.back_to_service()
        elif self.mode == "panel":
            self.refresh()

    # -- PIN pad ----------------------------------------------------------------------
    def press_digit(self, digit: str) -> None:
        if self.busy or len(self._pin) >= PIN_MAX:
            return
        self._pin += digit
        self.pin_dots = "●" * len(self._pin)

    def delete_digit(self) -> None:
        self._pin = self._pin[:-1]
        self.pin_dots = "●" * len(self._pin)

    def submit_pin(self) -> None:
        if self.busy or not self._pin:
            return
        pin, self._pin, self.pin_dots = self._pin, "", ""
        self.message = tr("正在验证…")
        self._in_background(lambda: self.maintenance.enter(pin), self._pin_checked)

    def _pin_checked(self, result) -> None:
        if result.ok:
            self.mode, self.message = "panel", ""
            self.refresh()
        elif result.outcome == "locked":
            self.message = self._locked_text(result.locked_for_s)
        elif result.outcome == "not_set":
            self.message = tr("本机未设置维护密码：请用 kioskctl maintenance set-pin 设置。")
        else:
            self.message = tr("密码错误，还可尝试 {n} 次。").format(n=result.tries_left)

    @staticmethod
    def _locked_text(seconds: float) -> str:
        return tr("密码错误次数过多，已锁定，请 {m} 分钟后再试。").format(m=max(1, round(seconds / 60)))

    # -- the panel -------------------------------------------------------------------------
    def refresh(self) -> None:
        """Gather the overview on a worker thread (it reads the queue database and the disk)."""
        if self._refreshing:
            return
        self._refreshing = True

        def kept_last_view(_exc) -> None:  # the cause is in the log (kiosk.background)
            self._refreshing = False
        when_done(self.maintenance.start(self.maintenance.overview), self._show_overview, kept_last_view,
                  name="maintenance overview")

    def _show_overview(self, info) -> None:
        self._refreshing = False
        self.overview_text = self._overview(info)
        self.devices_text = "\n".join(
            f"{STATE_MARK.get(s['state'], '?')} {role}: {s['state']}" + (f" [{s['code']}]" if s["code"] else "")
            + (f" — {s['reason']}" if s["reason"] else "") for role, s in info["devices"].items())

    @staticmethod
    def _overview(info: dict) -> str:
        def when(ts):
            return dt.datetime.fromtimestamp(ts).strftime("%m-%d %H:%M:%S") if ts else "—"
        menu = f"{info['menu_version'] or '—'}"
        if info["menu_pending"]:
            menu += tr("（待更新到 {v}）").format(v=info["menu_pending"])
        if info["menu_stale"]:
            menu += tr("（已过期）")
        beat = when(info["heartbeat_last_ok"]) + (f" ({info['heartbeat_error']})" if info["heartbeat_error"] else "")
        rows = [
            (tr("软件版本"), info["version"]), (tr("终端编号"), info["kiosk_id"]),
            (tr("平台"), f"{info['platform']} · {info['connectivity']}"),
            (tr("待发送 / 失败件"), f"{info['queue']['depth']} / {info['queue']['dead']}"),
            (tr("事项目录版本"), menu), (tr("目录最近检查"), when(info["menu_last_check"])),
            (tr("最近心跳"), beat), (tr("剩余磁盘"), f"{info['free_disk_mb']:.0f} MB"),
        ]
        return "\n".join(f"{label}：{value}" for label, value in rows)

    def run_selftest(self) -> None:
        self.results_text = tr("正在自检…（会打印测试小票和测试页）")
        self._action(self.maintenance.selftest, self._show_selftest)

    def _show_selftest(self, results) -> None:
        self.results_text = format_table(results)
        self.refresh()

    def test_print(self) -> None:
        self._action(self.maintenance.test_print, lambda text: setattr(self, "results_text", tr("测试小票：") + text))

    def retry_queue(self) -> None:
        self._action(self.maintenance.retry_queue,
                     lambda n: setattr(self, "results_text", tr("已重新发送 {n} 件失败件。").format(n=n)))

    # -- calibration --------------------------------------------------------------------
    def open_calibration(self) -> None:
        self.measured_left = self.measured_top = TARGET_MM
        self._show_offsets()
        self.mode, self.results_text = "calibrate", ""

    def _show_offsets(self) -> None:
        x, y = self.maintenance.current_offsets()
        self.offsets_text = tr("当前偏移：x {x:+.1f} mm，y {y:+.1f} mm").format(x=x, y=y)

    def step_measure(self, which: str, delta: float) -> None:
        name = f"measured_{which}"
        setattr(self, name, round(min(59.5, max(0.5, getattr(self, name) + delta)), 1))

    def print_calibration(self) -> None:
        self._action(self.maintenance.print_calibration_sheet,
                     lambda job: setattr(self, "results_text", tr("校准页已打印：") + Path(job).name))

    def save_calibration(self) -> None:
        left, top = self.measured_left, self.measured_top

        def saved(offsets) -> None:
            self._show_offsets()
            self.results_text = tr("已保存偏移 x {x:+.1f} mm，y {y:+.1f} mm。").format(x=offsets[0], y=offsets[1])
        self._action(lambda: self.maintenance.save_calibration(left, top), saved)

    # -- QR enrolment -----------------------------------------------------------------------
    def open_enrolment(self) -> None:
        self.mode = "enrol"
        self.results_text = tr("请将注册二维码对准摄像头或扫码器。")
        if not self.maintenance.can_scan_enrolment_qr():
            return
        self._scan_stop = threading.Event()
        stop = self._scan_stop
        self._in_background(lambda: self.maintenance.scan_enrolment_qr(stop),
                            lambda text: self.enrol_with(text) if text and not stop.is_set() else None)

    def on_bus_event(self, event) -> None:
        if self.mode == "enrol" and event.topic == "qr.scanned" and event.data.get("text"):
            self.enrol_with(str(event.data["text"]))

    def enrol_with(self, text: str) -> None:
        if self.busy or self.mode != "enrol":
            return
        self._scan_stop.set()

        def enrolled(result) -> None:
            self.results_text = tr("注册成功：终端编号 {id}。请按“重启应用”使新配置生效。").format(id=result.kiosk_id)
        self._action(lambda: self.maintenance.enrol_from_qr(text), enrolled)

    def restart_app(self) -> None:
        """Exit; systemd (Restart=always) starts the app again with the new config."""
        log.info("maintenance: app restart requested")
        self.app.stop()

    # -- leaving ---------------------------------------------------------------------------
    def show_panel(self) -> None:
        self._scan_stop.set()
        self.mode, self.results_text = "panel", ""
        self.refresh()

    def back_to_service(self) -> None:
        self._scan_stop.set()
        self.maintenance.leave()
        self.mode = "pin"
        self.app.go_home("maintenance_exit")

    # -- threads ------------------------------------------------------------------------------
    def _action(self, work, done) -> None:
        if self.busy:
            return
        self._in_background(work, done)

    def _in_background(self, work, done) -> None:
        self.busy = True

        def failed(exc: BaseException) -> None:
            if isinstance(exc, MaintenanceError):
                self._finish(done, None, str(exc))
            else:  # shown to the technician; kiosk.background logged it
                self._finish(done, None, f"{type(exc).__name__}: {exc}")
        when_done(self.maintenance.start(work), lambda outcome: self._finish(done, outcome, None), failed,
                  name="maintenance action")

    def _finish(self, done, outcome, error) -> None:
        self.busy = False
        if error is not None:
            self.results_text = tr("失败：") + error
            if self.mode == "pin":
                self.message = error
            return
        done(outcome)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
