"""``kioskctl install``: turn a Debian/Ubuntu machine into a kiosk.

What it sets up (docs/provisioning.md explains the choices):
  * packages: cage (Wayland kiosk compositor) + Xwayland, logrotate;
  * the app's .venv rebuilt from the runtime lock (requirements/kiosk.txt)
    alone by ``scripts/bootstrap.sh --kiosk``: no dev tools, no platform;
  * an unprivileged system user ``kiosk`` in the dialout/video/lp groups;
  * /etc/kiosk/kiosk.toml (production profile; an existing file is kept), readable
    but not writable by the app: it holds the kiosk's trust (platform URL, pinned
    menu keys, PIN hash), which code running as the kiosk user must not rewrite;
    /var/lib/kiosk (state, secrets 0700), /var/log/kiosk;
  * kiosk.service (cage session on tty1, Type=notify, WatchdogSec, Restart=always),
    its PAM stack, udev rules for the devices, logrotate for the console log;
  * systemd: enable the unit, boot to graphical.target; udev: reload rules.

Every step is planned first; ``--dry-run`` prints the plan and touches
nothing, a real run prints each step as it applies it.  Steps already in place
are skipped, so running it again after an update only changes what changed.
"""
from __future__ import annotations

import grp
import os
import pwd
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kiosk import config as cfg
from common.files import write_atomic
from provisioning.configfile import update_text

HERE = Path(__file__).resolve().parent
UNIT_TEMPLATE = HERE / "systemd" / "kiosk.service"
UDEV_RULES = HERE / "udev" / "99-kiosk.rules"
PAM_STACK = HERE / "pam" / "kiosk"
LOGROTATE = HERE / "logrotate" / "kiosk"
TEMPLATE_APP_DIR = "/opt/kiosk"
TEMPLATE_CAGE = "/usr/bin/cage"

USER = "kiosk"
DEVICE_GROUPS = ("dialout", "video", "lp", "render", "input")
PACKAGES = {"cage": "cage", "Xwayland": "xwayland", "logrotate": "logrotate"}   # command -> apt package

ETC_DIR = Path("/etc/kiosk")
CONFIG = ETC_DIR / "kiosk.toml"
DATA_DIR = Path("/var/lib/kiosk")
LOG_DIR = Path("/var/log/kiosk")
UNIT_PATH = Path("/etc/systemd/system/kiosk.service")
PAM_PATH = Path("/etc/pam.d/kiosk")
UDEV_PATH = Path("/etc/udev/rules.d/99-kiosk.rules")
LOGROTATE_PATH = Path("/etc/logrotate.d/kiosk")


class InstallError(Exception):
    """A step failed or cannot run; one line for the technician."""


@dataclass
class Step:
    summary: str
    action: Callable[[], None] = field(repr=False)


def production_config_text(example: Path = cfg.PROJECT_ROOT / "kiosk.example.toml") -> str:
    """The example config, switched to the production profile and paths."""
    return update_text(example.read_text(encoding="utf-8"), {
        "kiosk": {"profile": "production", "data_dir": str(DATA_DIR)},
        "display": {"fullscreen": True},
    }, "kiosk.example.toml")


def render_unit(app_dir: Path, cage: str) -> str:
    text = UNIT_TEMPLATE.read_text(encoding="utf-8")
    return text.replace(TEMPLATE_CAGE, cage).replace(TEMPLATE_APP_DIR, str(app_dir))


class Installer:
    """Plans and applies the install under ``root`` (``/`` on a real kiosk).

    ``run`` executes a command list; ``user_ids`` maps a user name to
    (uid, gid) or None; ``member_of`` gives a user's supplementary groups;
    ``runtime_env_ready`` says whether the app's .venv is the production one --
    all injectable so tests can install into a temp directory without touching
    the machine's users, services or packages.
    """

    def __init__(self, root: Path = Path("/"), app_dir: Path = cfg.PROJECT_ROOT,
                 run: Callable[[list[str]], None] | None = None,
                 user_ids: Callable[[str], tuple[int, int] | None] | None = None,
                 which: Callable[[str], str | None] = shutil.which,
                 member_of: Callable[[str], set[str]] | None = None,
                 runtime_env_ready: Callable[[Path], bool] | None = None):
        self.root = Path(root)
        self.app_dir = Path(app_dir).resolve()
        self.run = run or _run
        self.user_ids = user_ids or _user_ids
        self.which = which
        self.member_of = member_of or _member_of
        self.runtime_env_ready = runtime_env_ready or _runtime_env_ready
        self.files_changed = False

    def path(self, absolute: Path) -> Path:
        return self.root / absolute.relative_to("/")

    # -- planning -----------------------------------------------------------
    def plan(self) -> list[Step]:
        entry_point = self.app_dir / ".venv" / "bin" / "kiosk"
        if not entry_point.exists():
            raise InstallError(f"{entry_point} not found: run `sudo scripts/bootstrap.sh --kiosk` in {self.app_dir} first")
        if self.app_dir.is_relative_to("/home") or self.app_dir.is_relative_to("/root"):
            raise InstallError(f"the app is in {self.app_dir}, which the service cannot see (ProtectHome); "
                               "put the checkout in /opt/kiosk")
        steps: list[Step] = []
        missing = sorted({pkg for cmd, pkg in PACKAGES.items() if not self.which(cmd)})
        if missing:
            command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
            steps.append(Step("run " + shlex.join(command), lambda c=command: self.run(c)))
        steps += self._user_steps()
        steps += self._directory_steps()
        steps += self._file_steps()
        steps += self._service_steps(bool(steps))
        steps += self._voice_steps()
        steps += self._runtime_env_steps()
        steps += self._font_steps()
        return steps

    def _voice_steps(self) -> list[Step]:
        """The spoken prompts' WAV cache (what ``kioskctl voice build`` writes), built now so
        the first resident hears every prompt at once; only where espeak-ng is installed
        (else the kiosk synthesises nothing and speaks recorded prompts only)."""
        from kiosk.voice import prompts, runtime
        if not self.which("espeak-ng"):
            return []
        config_file = self.path(CONFIG)
        config = (cfg.load(config_file) if config_file.exists()
                  else cfg.parse(production_config_text(), str(CONFIG)))
        sounds = runtime.prompt_sounds(config)
        cache = self.path(runtime.cache_dir(config)) if runtime.cache_dir(config).is_absolute() \
            else runtime.cache_dir(config)
        missing = [(p, lang) for lang in ("zh_CN", "zh_TW", "en") for p in prompts.ids()
                   if sounds.cached(p, lang, cache) is None]
        if not missing:
            return []

        def build(sounds=sounds, cache=cache):
            sounds.build(cache)
            uid, gid = self._owner("kiosk:kiosk")
            for path in [cache, *cache.rglob("*")]:
                os.chown(path, uid, gid)
        return [Step(f"build the voice prompt cache {runtime.cache_dir(config)} ({len(missing)} prompt files, "
                     "kioskctl voice build)", build)]

    def _font_steps(self) -> list[Step]:
        """The licence PDF font (a one-time CFF->TrueType conversion of several seconds), built
        now as the kiosk user so that no resident's first licence waits for it."""
        fonts = self.path(DATA_DIR / "cache" / "fonts")
        if fonts.is_dir() and any(fonts.glob("cjk-sc-*.ttf")):
            return []
        command = ["runuser", "-u", USER, "--", str(self.app_dir / ".venv" / "bin" / "kioskctl"),
                   "print", "fonts"]   # kioskctl reads /etc/kiosk/kiosk.toml
        return [Step("run " + shlex.join(command) + " (the licence font, before the first resident)",
                     lambda c=command: self.run(c))]

    def _runtime_env_steps(self) -> list[Step]:
        """Last, because it rebuilds the .venv this very command runs from."""
        if self.runtime_env_ready(self.app_dir):
            return []
        command = [str(self.app_dir / "scripts" / "bootstrap.sh"), "--kiosk"]
        return [Step(f"run {shlex.join(command)} (.venv from requirements/kiosk.txt only, hash-checked; "
                     "the kiosk's Debian runtime packages)", lambda c=command: self.run(c))]

    def _user_steps(self) -> list[Step]:
        steps = []
        if self.user_ids(USER) is None:
            command = ["useradd", "--system", "--user-group", "--home-dir", str(DATA_DIR),
                       "--shell", "/usr/sbin/nologin", "--comment", "civic kiosk app", USER]
            steps.append(Step("run " + shlex.join(command), lambda c=command: self.run(c)))
        groups = [g for g in DEVICE_GROUPS if _group_exists(g)]
        if groups and not set(groups) <= self.member_of(USER):
            command = ["usermod", "--append", "--groups", ",".join(groups), USER]
            steps.append(Step("run " + shlex.join(command), lambda c=command: self.run(c)))
        return steps

    def _owner(self, who: str) -> tuple[int, int]:
        """(uid, gid) for "root", "kiosk" or "root:kiosk", looked up at apply time."""
        user, _, group = who.partition(":")
        uid = 0 if user == "root" else self._kiosk_ids()[0]
        gid = 0 if (group or user) == "root" else self._kiosk_ids()[1]
        return uid, gid

    def _kiosk_ids(self) -> tuple[int, int]:
        ids = self.user_ids(USER)
        if ids is None:
            raise InstallError(f"user {USER} does not exist (the useradd step failed?)")
        return ids

    def _directory_steps(self) -> list[Step]:
        steps = []
        # /etc/kiosk: the app may read its config, never write or replace it (what it must write,
        # calibration and PIN lockout state, lives in its own files under /var/lib/kiosk).
        for path, mode, who in ((ETC_DIR, 0o750, "root:kiosk"), (DATA_DIR, 0o750, "kiosk:kiosk"),
                                (DATA_DIR / "secrets", 0o700, "kiosk:kiosk"), (LOG_DIR, 0o750, "kiosk:kiosk")):
            target = self.path(path)
            if target.is_dir() and (target.stat().st_mode & 0o7777) == mode:
                continue

            def make(target=target, mode=mode, who=who):
                target.mkdir(parents=True, exist_ok=True)
                os.chown(target, *self._owner(who))
                os.chmod(target, mode)
            steps.append(Step(f"create directory {path} ({who}, {mode:o})", make))
        return steps

    def _file_steps(self) -> list[Step]:
        cage = self.which("cage") or TEMPLATE_CAGE
        files = [
            (UNIT_PATH, render_unit(self.app_dir, cage), 0o644, "root"),
            (PAM_PATH, PAM_STACK.read_text(encoding="utf-8"), 0o644, "root"),
            (UDEV_PATH, UDEV_RULES.read_text(encoding="utf-8"), 0o644, "root"),
            (LOGROTATE_PATH, LOGROTATE.read_text(encoding="utf-8"), 0o644, "root"),
        ]
        steps = []
        config_target = self.path(CONFIG)
        if not config_target.exists():
            files.insert(0, (CONFIG, production_config_text(), 0o640, "root:kiosk"))
        for path, text, mode, who in files:
            target = self.path(path)
            if target.exists() and target.read_text(encoding="utf-8") == text:
                continue
            verb = "replace" if target.exists() else "write"

            def write(target=target, text=text, mode=mode, who=who):
                target.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(target, text, mode, self._owner(who))
                self.files_changed = True
            steps.append(Step(f"{verb} {path} ({who}, {mode:o}, {len(text.splitlines())} lines)", write))
        return steps

    def _service_steps(self, anything_else: bool) -> list[Step]:
        if not anything_else and self.path(UNIT_PATH).exists():
            return []
        commands = [["systemctl", "daemon-reload"], ["systemctl", "enable", "kiosk.service"],
                    ["systemctl", "set-default", "graphical.target"],
                    ["udevadm", "control", "--reload-rules"], ["udevadm", "trigger"]]
        return [Step("run " + shlex.join(c), lambda c=c: self.run(c)) for c in commands]

    # -- applying -----------------------------------------------------------
    def apply(self, steps: list[Step], say: Callable[[str], None] = print) -> None:
        for step in steps:
            say(f"+ {step.summary}")
            try:
                step.action()
            except InstallError:
                raise
            except (OSError, subprocess.CalledProcessError) as exc:
                raise InstallError(f"step failed: {step.summary}: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        err = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        return f"exit status {exc.returncode}" + (f": {err[-1]}" if err else "")
    return exc.strerror or str(exc)


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _runtime_env_ready(app_dir: Path) -> bool:
    """The bootstrap's own answer: .venv made for production from today's lock."""
    check = [str(app_dir / "scripts" / "bootstrap.sh"), "--kiosk", "--check"]
    return subprocess.run(check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def _user_ids(name: str) -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _member_of(user: str) -> set[str]:
    return {g.gr_name for g in grp.getgrall() if user in g.gr_mem}


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False
