"""Kiosk configuration: one TOML file, validated against a schema at start.

Where the file comes from: ``--config PATH``, else ``$KIOSK_CONFIG``, else
``/etc/kiosk/kiosk.toml`` when it exists, else the embedded defaults (a
windowed development kiosk with simulated devices and a local reference
platform).  Every problem -- unreadable file, bad TOML, unknown key, wrong
type, missing value -- raises :class:`ConfigError` whose message is one line
naming the file and the key; the entry points print it and exit with 2.

Each section's schema lives in ``SCHEMA`` below; owners of a section add keys
there (and to ``kiosk.example.toml``).
"""
from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRODUCTION_PATH = Path("/etc/kiosk/kiosk.toml")
PROJECT_ROOT = Path(__file__).resolve().parent.parent  # assets/ and the dev var/ live here
EMBEDDED = "<embedded defaults>"
REQUIRED = object()


class ConfigError(Exception):
    """A configuration problem, phrased as one line for a technician."""


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    default: Any = REQUIRED
    choices: tuple | None = None
    help: str = ""


def _f(type_, default=REQUIRED, choices=None, help=""):
    return Field(type_, default, tuple(choices) if choices else None, help)


NUMBER = (int, float)

# Device sections share ``driver`` and ``enabled``; the rest depends on the role.
DEVICE_COMMON = {
    "driver": _f(str, "simulated", help="adapter name, see devices.registry"),
    "enabled": _f(bool, True),
}

SCHEMA: dict[str, Any] = {
    "kiosk": {
        "id": _f(str, "dev-kiosk-001", help="kiosk identity reported to the platform"),
        "centre_name": _f(str, "福田区华富街道党群服务中心", help="简体中文 screens and receipts"),
        "centre_name_zh_tw": _f(str, "福田區華富街道黨群服務中心",
                                help="繁體中文 screens and receipts (empty: centre_name)"),
        "centre_name_en": _f(str, "Huafu Subdistrict Service Centre, Futian",
                             help="English screens and receipts (empty: centre_name)"),
        "region": _f(str, "440304", help="region code; menu bundles must match it"),
        "data_dir": _f(str, "var", help="state: logs, queue, journals, menus"),
        "profile": _f(str, "dev", choices=("dev", "production")),
    },
    "display": {
        "fullscreen": _f(bool, False),
        "width": _f(int, 1920),
        "height": _f(int, 1080),
        "language": _f(str, "zh_CN", choices=("zh_CN", "zh_TW", "en")),
        "elder_mode_default": _f(bool, False),
    },
    "session": {
        "idle_timeout_s": _f(int, 90, help="inactivity before the countdown shows"),
        "countdown_s": _f(int, 60, help="visible countdown before the session is wiped"),
        "elder_timeout_factor": _f(NUMBER, 2.0),
    },
    "logging": {
        "level": _f(str, "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
        "max_bytes": _f(int, 5_000_000),
        "backups": _f(int, 5),
    },
    "devices": {
        "id_reader": {
            **DEVICE_COMMON,
            "port": _f(str, ""),
            "baud": _f(int, 115200),
            "card": _f(str, "", help="simulator: card JSON file (empty: sample resident card)"),
            "photo_decoder": _f(str, "", help="optional vendor WLT decoder library (.so)"),
        },
        "camera": {
            **DEVICE_COMMON,
            "source": _f(str, "", help="device index, /dev/videoN, or a video/image file"),
            "width": _f(int, 1280),
            "height": _f(int, 720),
        },
        "document_camera": {
            **DEVICE_COMMON,
            "source": _f(str, ""),
            "width": _f(int, 1920),
            "height": _f(int, 1080),
        },
        "qr_scanner": {
            **DEVICE_COMMON,
            "port": _f(str, "", help="serial: port; hid: /dev/input/by-id/...-event-kbd"),
            "baud": _f(int, 9600, help="serial scanners (most ship at 9600)"),
            "source": _f(str, "", help="camera driver: index, /dev/videoN or file"),
            "backend": _f(str, "zxing", choices=("zxing", "pyzbar")),
        },
        "receipt_printer": {
            **DEVICE_COMMON,
            "connection": _f(str, "", help="usb VID:PID | serial port | host:port | file path"),
            "paper_width_mm": _f(int, 80, choices=(58, 80)),
            "encoding": _f(str, "gb18030", choices=("gb18030", "gbk", "utf-8")),
            "baud": _f(int, 9600, help="serial connection speed"),
        },
        "licence_printer": {
            **DEVICE_COMMON,
            "driver": _f(str, "file", help="cups | file (PDFs into data_dir/prints)"),
            "queue": _f(str, "", help="CUPS queue name (driver = cups)"),
            "offset_x_mm": _f(NUMBER, 0.0),
            "offset_y_mm": _f(NUMBER, 0.0),
            "cups_server": _f(str, "", help="host:port of cupsd (empty: the local default)"),
            "preprinted_stock": _f(bool, True, help="stock has the form printed: print field values only"),
        },
    },
    "platform": {
        "url": _f(str, "", help="empty: start the local reference platform on loopback"),
        "token_file": _f(str, "", help="per-kiosk bearer token, written at enrolment"),
        "ca_bundle": _f(str, "", help="CA bundle for TLS verification (empty: system CAs)"),
        "timeout_s": _f(NUMBER, 10.0),
        "local_port": _f(int, 8765, help="port of the embedded reference platform"),
    },
    "queue": {
        "backoff_base_s": _f(NUMBER, 1.0),
        "backoff_cap_s": _f(NUMBER, 300.0),
        "min_free_mb": _f(int, 200),
        "key_file": _f(str, "", help="AES key for data at rest (empty: data_dir/secrets/queue.key)"),
        "dead_letter_days": _f(int, 30, help="a refused item keeps its personal data this long for a retry"),
    },
    "menu": {
        "path": _f(str, "assets/menus/sample.json"),
        "pubkeys": _f(list, ["KGnqQOzr78x4nYbs/Bjno27dF9QcFLcMsAyOkKw6XQg="],
                      help="pinned Ed25519 public keys (base64), at most two; default: the DEV ONLY key"),
        "poll_interval_s": _f(int, 300),
        "bundle": _f(str, "assets/menus/sample.bundle", help="signed menu shipped with the software, used until one is installed"),
        "max_bundle_bytes": _f(int, 4_194_304, help="larger bundles are rejected unread"),
    },
    "privacy": {
        "id_mask_head": _f(int, 6, help="ID number digits shown at the start"),
        "id_mask_tail": _f(int, 4, help="ID number digits shown at the end"),
    },
    "maintenance": {
        "pin_hash": _f(str, "", help="scrypt hash of the technician PIN"),
    },
    "heartbeat": {
        "enabled": _f(bool, True),
        "interval_s": _f(int, 60, help="seconds between health reports to the platform"),
        "jitter": _f(NUMBER, 0.2, help="each interval varies by this fraction, so a fleet does not beat in step"),
    },
}


# The centre's name in each UI language (kiosk.i18n.LANGUAGES) -> its [kiosk] key.
CENTRE_NAME_KEYS = {"zh_CN": "centre_name", "zh_TW": "centre_name_zh_tw", "en": "centre_name_en"}


class Section:
    """Read-only attribute access to one validated table."""

    def __init__(self, name: str, values: dict[str, Any]):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"config section [{self._name}] has no key {key!r}") from None

    def __setattr__(self, key, value):
        raise AttributeError("configuration is read-only")

    def as_dict(self) -> dict[str, Any]:
        return {k: v.as_dict() if isinstance(v, Section) else v for k, v in self._values.items()}

    def __repr__(self) -> str:
        return f"Section({self._name!r})"


@dataclass(frozen=True)
class Config:
    source: str          # file path, or EMBEDDED
    base_dir: Path       # relative paths resolve against this
    root: Section

    def __getattr__(self, key: str) -> Any:
        return getattr(self.root, key)

    def path(self, value: str) -> Path:
        """Resolve a path setting relative to the config file's directory."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def data_dir(self) -> Path:
        return self.path(self.root.kiosk.data_dir)

    @property
    def is_production(self) -> bool:
        return self.root.kiosk.profile == "production"

    def centre_name_for(self, language: str) -> str:
        """The centre's name on a screen or receipt in ``language`` (zh_CN, zh_TW, en).

        An empty per-language name falls back to ``centre_name``.  A file that names its
        own centre (``centre_name``) but not ``centre_name_zh_tw`` / ``centre_name_en``
        gets that fallback too, rather than the embedded sample centre's translations:
        the right centre in Simplified characters beats the wrong centre in Traditional.
        """
        kiosk = self.root.kiosk
        return getattr(kiosk, CENTRE_NAME_KEYS.get(language, "centre_name")) or kiosk.centre_name

    def untranslated_centre_names(self) -> list[str]:
        """The per-language centre-name keys left empty (their screens show ``centre_name``)."""
        kiosk = self.root.kiosk
        return [key for key in CENTRE_NAME_KEYS.values() if key != "centre_name" and not getattr(kiosk, key)]


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return "number" if t == NUMBER else " or ".join(x.__name__ for x in t)
    return {str: "string", int: "integer", bool: "true/false", list: "list", float: "number"}.get(t, t.__name__)


def _check_type(value, field: Field) -> bool:
    if isinstance(value, bool) and field.type is not bool and field.type != (bool,):
        return False  # TOML true is not an integer setting
    return isinstance(value, field.type)


def _validate(source: str, schema: dict, data: dict, path: str) -> Section:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: [{path}] must be a table")
    for key in data:
        if key not in schema:
            where = f"[{path}] " if path else ""
            known = ", ".join(sorted(schema))
            close = difflib.get_close_matches(key.lower(), list(schema), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{source}: {where}unknown key {key!r} (known: {known}){hint}")
    values: dict[str, Any] = {}
    for key, spec in schema.items():
        dotted = f"{path}.{key}" if path else key
        if isinstance(spec, dict):
            values[key] = _validate(source, spec, data.get(key, {}), dotted)
            continue
        if key not in data:
            if spec.default is REQUIRED:
                raise ConfigError(f"{source}: missing value for {dotted}")
            default = spec.default
            values[key] = list(default) if isinstance(default, list) else default
            continue
        value = data[key]
        if not _check_type(value, spec):
            raise ConfigError(
                f"{source}: {dotted} must be {_type_name(spec.type)}, got {type(value).__name__} {value!r}")
        if spec.choices and value not in spec.choices:
            choices = ", ".join(map(str, spec.choices))
            raise ConfigError(f"{source}: {dotted} = {value!r} is not one of: {choices}")
        values[key] = value
    return Section(path or "root", values)


def _own_centre_names(data: dict) -> None:
    """A file that names its own centre falls back to that name in the languages it
    does not translate it into, not to the embedded sample centre (Config.centre_name_for)."""
    kiosk = data.get("kiosk")
    if not isinstance(kiosk, dict):
        return
    name = kiosk.get("centre_name")
    if isinstance(name, str) and name != SCHEMA["kiosk"]["centre_name"].default:
        for key in CENTRE_NAME_KEYS.values():
            kiosk.setdefault(key, "")


def parse(text: str, source: str = EMBEDDED, base_dir: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    _own_centre_names(data)
    root = _validate(source, SCHEMA, data, "")
    return Config(source=source, base_dir=base_dir or PROJECT_ROOT, root=root)


def locate(explicit: str | os.PathLike | None = None) -> Path | None:
    """The config file to use, or None for the embedded defaults."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("KIOSK_CONFIG")
    if env:
        return Path(env)
    return PRODUCTION_PATH if PRODUCTION_PATH.exists() else None


def load(explicit: str | os.PathLike | None = None) -> Config:
    path = locate(explicit)
    if path is None:
        return defaults()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except PermissionError:
        raise ConfigError(f"{path}: config file is not readable (permission denied)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    return parse(text, str(path), path.resolve().parent)


def defaults() -> Config:
    return parse("", EMBEDDED, PROJECT_ROOT)
