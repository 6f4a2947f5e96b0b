"""Issue 18: the first frame shows the service categories.  The real app starts in a fresh
process (as after a watchdog restart), the second time with the glance of the menu the
first start verified: its first drawn frame already has the category tiles."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_once(data_dir: Path) -> dict[str, int]:
    """Markers the bench child prints at its first home frame and first frame with tiles."""
    env = dict(os.environ, KIVY_NO_ARGS="1", KIVY_HOME=str(data_dir / "kivy"))
    env.pop("KIOSK_SCREENSHOT_DIR", None)
    out = subprocess.run([sys.executable, "-m", "bench.bench_startup", "--child", "kiosk", str(data_dir)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120).stdout
    frames = {}
    for line in out.splitlines():
        marker, _, frame = line.partition(" frame=")
        if frame:
            frames[marker] = int(frame)
    return frames


def test_second_start_draws_the_categories_in_its_first_frame(tmp_path):
    first = start_once(tmp_path)
    glance = json.loads((tmp_path / "menus" / "glance.json").read_text(encoding="utf-8"))
    assert [c["names"]["zh_CN"] for c in glance["categories"]][:3] == ["个人服务", "企业服务", "证照打印"]
    assert "FIRST_MENU_FRAME" in first      # (the first start waited for the core)
    second = start_once(tmp_path)
    assert second["FIRST_MENU_FRAME"] == second["FIRST_HOME_FRAME"] == 1, second
    # no personal data in it: ids, icons and names of services only
    assert set(glance) == {"format", "version", "categories"}
