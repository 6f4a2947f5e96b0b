"""帮助 in the real app under Xvfb, against the real reference platform: the resident is told
"已通知工作人员" only after the platform has the request, the truth (hotline, service desk) while it
cannot be reached, and "工作人员正在赶来" once staff acknowledge on the fleet page."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from central import help as help_requests
from tests.ui_driver import pump, pump_for, running_app, tap, until

ROOT = Path(__file__).resolve().parent.parent
NOTIFIED, COMING, HOTLINE = "已通知工作人员", "工作人员正在赶来", "12345"


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory):
    from central.testing import run_server
    from kiosk import config as cfg
    from kiosk.core import KioskCore
    from kiosk.platform import PlatformClient

    tmp = tmp_path_factory.mktemp("help-ui")
    with run_server(tmp / "central.db", kiosk_id="help-ui-kiosk") as platform:
        config = cfg.parse(f'[kiosk]\nid = "help-ui-kiosk"\ndata_dir = "{tmp / "var"}"\n'
                           f'[platform]\nurl = "{platform.base_url}"\ntimeout_s = 3.0\n'
                           f"[queue]\nbackoff_base_s = 0.1\nbackoff_cap_s = 0.5\nmin_free_mb = 1\n"
                           f"[heartbeat]\nenabled = false\n"
                           f"[help]\ndelivery_wait_s = 1.5\npoll_interval_s = 0.5\n"
                           f'[menu]\nbundle = "{ROOT / "assets" / "menus" / "sample.bundle"}"\n', "test.toml", ROOT)
        core = KioskCore(config)
        core.platform = PlatformClient(platform.base_url, token=platform.token, timeout=3.0)
        with running_app(config, core=core) as app:
            until(lambda: app.menu is not None and app.core_ready, timeout=30, what="the menu")
            pump_for(0.5)
            yield app, platform


@pytest.fixture
def app(kiosk):
    return kiosk[0]


@pytest.fixture
def platform(kiosk):
    yield kiosk[1]
    kiosk[1].set_faults()


def panel_text(app) -> str:
    from screens.help_panel import HelpPanel
    overlay = app.overlay
    assert isinstance(overlay, HelpPanel), overlay
    return overlay.ids.body.text


def acknowledge_on_the_fleet_page(platform, request_id: str) -> None:
    page = requests.get(platform.base_url + "/admin/fleet", auth=("admin", platform.admin_token), timeout=10).text
    item = re.search(rf'data-request="{request_id}">(.*?)</li>', page, re.S).group(1)
    action = re.search(r'action="([^"]+)"', item).group(1)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', item).group(1)
    answer = requests.post(platform.base_url + action, data={"csrf": csrf, "by": "李工"},
                           auth=("admin", platform.admin_token), timeout=10, allow_redirects=False)
    assert answer.status_code == 303


def test_told_notified_only_after_delivery_then_staff_are_coming(app, platform, tmp_path):
    before = platform.count("help_requests")
    platform.set_faults(latency_s=1.0)  # the platform takes a second to answer
    tap(app.header.ids.help_button)
    text = panel_text(app)
    assert "正在通知工作人员" in text and NOTIFIED not in text and COMING not in text
    seen_notified_before_stored = []

    def told() -> bool:
        shown = NOTIFIED in panel_text(app)
        if shown and platform.count("help_requests") == before:
            seen_notified_before_stored.append(True)
        return shown
    until(told, timeout=15, what="已通知工作人员")
    assert not seen_notified_before_stored and platform.count("help_requests") == before + 1
    request_id = app.overlay.request_id
    stored = help_requests.get(platform.store, request_id)
    assert stored.screen == "home" and stored.kiosk_id == "help-ui-kiosk"
    platform.set_faults()
    pump_for(1.0)
    assert COMING not in panel_text(app)  # nobody has answered yet

    acknowledge_on_the_fleet_page(platform, request_id)
    until(lambda: COMING in panel_text(app), timeout=15, what="工作人员正在赶来")
    pump(3)
    assert app.save_screenshot(tmp_path, "help-staff-coming").stat().st_size > 10_000
    tap(app.overlay.ids.primary)  # 知道了
    assert app.overlay is None


def test_platform_unreachable_the_truth_then_notified_when_the_queue_delivers(app, platform, tmp_path):
    before = platform.count("help_requests")
    platform.set_faults(drop_rate=1.0)  # the network is down
    tap(app.header.ids.help_button)
    until(lambda: HOTLINE in panel_text(app) and "服务台" in panel_text(app), timeout=15,
          what="the hotline and the service desk")
    assert NOTIFIED not in panel_text(app) and "本机会继续尝试" in panel_text(app)
    pump(3)
    app.save_screenshot(tmp_path, "help-not-delivered")
    pump_for(1.0)
    assert NOTIFIED not in panel_text(app) and platform.count("help_requests") == before
    platform.set_faults()  # the network is back, the panel still open
    until(lambda: NOTIFIED in panel_text(app), timeout=20, what="已通知工作人员 after the outage")
    assert platform.count("help_requests") == before + 1
    pump(3)
    app.save_screenshot(tmp_path, "help-notified")
    tap(app.overlay.ids.primary)
    pump(3)
    assert app.overlay is None


def test_the_panel_speaks_the_residents_language(app, platform):
    app.set_language("en")
    pump(3)
    tap(app.header.ids.help_button)
    until(lambda: "Staff have been notified" in panel_text(app), timeout=15, what="the English words")
    assert "工作人员" not in panel_text(app)
    tap(app.overlay.ids.primary)


def test_the_panel_fits_the_window_in_every_language_mode_orientation_and_state(app):
    """With the longest help words of any screen, every state's words, in elder mode too, the
    panel's card (icon, title, words, 知道了) stays inside the window."""
    import importlib

    from kivy.core.window import Window

    from kiosk.i18n import LANGUAGES
    from screens.app import SCREENS
    from screens.help_panel import MESSAGES, HelpPanel
    from screens.theme import theme
    from screens.tour import ORIENTATIONS
    from screens.widgets import tr
    texts = {getattr(importlib.import_module(module), name).help_text
             for module, name in (target.split(":") for target in SCREENS.values())}
    misfits = []
    try:
        for orientation, size in ORIENTATIONS:
            Window.size = size
            for language in LANGUAGES:
                app.set_language(language)
                longest = max(texts, key=lambda text: len(tr(text)))
                for elder in (False, True):
                    theme.elder = elder
                    for state in MESSAGES:
                        panel = HelpPanel(help_text=longest)
                        app.open_overlay(panel)
                        panel.advance(state)
                        pump(4)
                        card = panel.children[0]
                        if card.y < 0 or card.top > Window.height:
                            misfits.append(f"{orientation} {language} elder={elder} {state}: "
                                           f"{card.y:.0f}..{card.top:.0f} of {Window.height}")
                        app.close_overlay()
    finally:
        Window.size = ORIENTATIONS[0][1]
        pump(3)
    assert not misfits, misfits
