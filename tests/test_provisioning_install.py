"""Production install: dry run changes nothing, a real run into a temp root
writes every file with the right modes and runs the right commands, the unit
passes ``systemd-analyze verify``."""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from kiosk import config as cfg
from kiosk.cli import main as kioskctl
from provisioning import install
from provisioning.install import Installer, render_unit


class Machine:
    """The parts of a machine the installer asks about, recorded instead of changed."""

    def __init__(self, root=None):
        self.root = root
        self.commands: list[list[str]] = []
        self.users: dict[str, tuple[int, int]] = {}
        self.groups: set[str] = set()
        self.venv_ready = False

    def run(self, command):
        self.commands.append(command)
        if command[0] == "useradd":
            self.users[command[-1]] = (os.getuid(), os.getgid())
        if command[0] == "usermod":
            self.groups |= set(command[3].split(","))
        if command[0].endswith("scripts/bootstrap.sh"):
            self.venv_ready = True
        if command[-2:] == ["print", "fonts"] and self.root is not None:   # what kioskctl would write
            fonts = self.root / "var/lib/kiosk/cache/fonts"
            fonts.mkdir(parents=True, exist_ok=True)
            (fonts / "cjk-sc-0123456789abcdef.ttf").write_bytes(b"ttf")

    def user_ids(self, name):
        return self.users.get(name)

    def member_of(self, _name):
        return self.groups

    def installer(self, root, which=None):
        return Installer(root=root, run=self.run, user_ids=self.user_ids, member_of=self.member_of,
                         which=which or (lambda _cmd: None), runtime_env_ready=lambda _app: self.venv_ready)


def test_dry_run_lists_every_change_and_changes_nothing(tmp_path, capsys):
    machine = Machine()
    installer = machine.installer(tmp_path)
    steps = installer.plan()
    summaries = "\n".join(s.summary for s in steps)
    for expected in ("apt-get install -y --no-install-recommends cage logrotate xwayland",
                     "useradd --system", "/etc/kiosk/kiosk.toml", "/etc/systemd/system/kiosk.service",
                     "/etc/udev/rules.d/99-kiosk.rules", "/etc/logrotate.d/kiosk", "/etc/pam.d/kiosk",
                     "/var/lib/kiosk/secrets", "systemctl enable kiosk.service"):
        assert expected in summaries
    assert list(tmp_path.iterdir()) == [] and machine.commands == []


def test_cli_dry_run_on_this_machine_touches_nothing(capsys):
    before = {p: p.exists() for p in (install.CONFIG, install.UNIT_PATH, install.UDEV_PATH)}
    assert kioskctl(["install", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "nothing was changed (dry run)" in out or "already installed" in out
    assert {p: p.exists() for p in before} == before


def test_apply_into_a_root_then_nothing_left_to_do(tmp_path):
    machine = Machine(tmp_path)
    installer = machine.installer(tmp_path)
    installer.apply(installer.plan(), say=lambda _line: None)

    config = cfg.load(tmp_path / "etc/kiosk/kiosk.toml")
    assert config.is_production and str(config.data_dir) == "/var/lib/kiosk" and config.display.fullscreen
    mode = lambda p: stat.S_IMODE((tmp_path / p).stat().st_mode)  # noqa: E731
    assert mode("var/lib/kiosk/secrets") == 0o700 and mode("etc/kiosk/kiosk.toml") == 0o640
    assert mode("etc/systemd/system/kiosk.service") == 0o644
    unit = (tmp_path / "etc/systemd/system/kiosk.service").read_text()
    assert f"-- {cfg.PROJECT_ROOT}/.venv/bin/kiosk" in unit and "/opt/kiosk" not in unit
    names = [c[0] + " " + c[1] for c in machine.commands]
    assert names.index("useradd --system") < names.index("usermod --append") < names.index("systemctl daemon-reload")
    assert ["systemctl", "enable", "kiosk.service"] in machine.commands
    assert machine.commands[-2] == [f"{cfg.PROJECT_ROOT}/scripts/bootstrap.sh", "--kiosk"]
    # last, with the production .venv: the licence font, as the kiosk user (issue 18)
    assert machine.commands[-1] == ["runuser", "-u", "kiosk", "--", f"{cfg.PROJECT_ROOT}/.venv/bin/kioskctl",
                                    "print", "fonts"]

    machine.commands.clear()
    again = machine.installer(tmp_path, which=lambda c: f"/usr/bin/{c}")
    if shutil.which("espeak-ng"):   # espeak-ng there: the voice prompts' cache is built, once
        steps = again.plan()
        assert [s.summary.split(" (")[0] for s in steps] == ["build the voice prompt cache /var/lib/kiosk/voice"]
        again.apply(steps, say=lambda _line: None)
        assert len(list((tmp_path / "var/lib/kiosk/voice/en").glob("*.wav"))) >= 30
    assert again.plan() == []


def test_existing_config_is_kept(tmp_path):
    machine = Machine()
    (tmp_path / "etc/kiosk").mkdir(parents=True)
    (tmp_path / "etc/kiosk/kiosk.toml").write_text('[kiosk]\nid = "enrolled-7"\n')
    installer = machine.installer(tmp_path)
    assert not any("kiosk.toml" in s.summary for s in installer.plan())


def test_failed_command_is_one_line(tmp_path):
    def failing(command):
        raise subprocess.CalledProcessError(100, command, stderr=b"E: Unable to locate package cage\n")
    installer = Installer(root=tmp_path, run=failing, user_ids=lambda _n: None, which=lambda _c: None)
    with pytest.raises(install.InstallError, match="apt-get install .*: exit status 100: E: Unable to locate"):
        installer.apply(installer.plan(), say=lambda _line: None)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    # verify insists that ExecStart's binaries exist: stand-ins for cage and the app.
    app_dir = tmp_path / "app"
    (app_dir / ".venv/bin").mkdir(parents=True)
    cage = tmp_path / "cage"
    for exe in (cage, app_dir / ".venv/bin/kiosk"):
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    unit = tmp_path / "kiosk.service"
    unit.write_text(render_unit(app_dir, str(cage)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if "kiosk.service" in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr

    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("WatchdogSec=30", "WatchdogSec=thirty"))
    result = subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True, text=True)
    assert "WatchdogSec" in result.stderr or "thirty" in result.stderr


def test_unit_asks_for_what_the_watchdog_needs():
    unit = install.UNIT_TEMPLATE.read_text()
    for line in ("Type=notify", "NotifyAccess=all", "Restart=always", "WatchdogSec=30", "User=kiosk",
                 "StartLimitIntervalSec=0"):
        assert re.search(rf"^{line}$", unit, re.M), line


UDEV_KEY = re.compile(r'^(SUBSYSTEM|KERNEL|ENV\{\w+\}|ATTR\{\w+\}|ATTRS\{\w+\})=="[^"]+"$|'
                      r'^(GROUP|MODE)="[^"]+"$|^SYMLINK\+="[^"]+"$')


def test_udev_rules_are_well_formed_and_cover_each_device_class():
    rules = [line for line in install.UDEV_RULES.read_text().splitlines() if line and not line.startswith("#")]
    for rule in rules:
        for token in rule.split(", "):
            assert UDEV_KEY.match(token), f"bad udev token {token!r} in {rule!r}"
    text = "\n".join(rules)
    for needle in ('SUBSYSTEM=="tty"', 'SUBSYSTEM=="video4linux"', '"04b8|0416|0fe6|0483', 'KERNEL=="lp[0-9]*"'):
        assert needle in text
