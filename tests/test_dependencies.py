"""The dependency set: pyproject's runtime / [central] / [dev] split, the
hash-pinned locks in requirements/ generated from it, and the install paths
that use them (a production kiosk gets the runtime lock only)."""
from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from kiosk import config as cfg
from provisioning.install import Installer

ROOT = cfg.PROJECT_ROOT
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCKS = {name: ROOT / "requirements" / f"{name}.txt" for name in ("kiosk", "central", "dev")}
BOOTSTRAP = ROOT / "scripts" / "bootstrap.sh"

# What each lock must satisfy: the kiosk lock the runtime dependencies, the
# platform's lock those plus [central], the dev lock everything.  Each also
# pins the build backend, because the bootstrap builds without isolation.
DECLARED = {
    "kiosk": ["dependencies"],
    "central": ["dependencies", "central"],
    "dev": ["dependencies", "central", "dev"],
}

# The reference platform and the test/build tools: never on a kiosk.
NOT_ON_A_KIOSK = {"fastapi", "starlette", "uvicorn", "httptools", "uvloop", "psycopg", "psycopg-binary",
                  "python-multipart", "jinja2", "pytest", "pytest-timeout", "hypothesis",
                  "httpx", "schemathesis", "import-linter", "babel"}
NOT_ON_THE_PLATFORM = {"pytest", "pytest-timeout", "hypothesis", "schemathesis", "import-linter", "babel"}

# package: (last vulnerable release, first fixed release, advisory).  A lower
# bound in pyproject must exclude the vulnerable release; every lock pin must
# be at least the fixed one (transitive packages included).
SECURITY_FLOORS = {
    "opencv-python": ("4.8.0.76", "4.8.1.78", "CVE-2023-4863 libwebp heap overflow in the bundled codec"),
    "pillow": ("11.2.1", "11.3.0", "CVE-2024-28219 (<10.3), CVE-2025-48379 (11.2.x) buffer overflows"),
    "orjson": ("3.9.14", "3.9.15", "CVE-2024-27454 unbounded recursion on deep nesting"),
    "cryptography": ("44.0.0", "44.0.1", "CVE-2024-26130, CVE-2024-12797 (bundled OpenSSL)"),
    "requests": ("2.32.3", "2.32.4", "CVE-2024-35195, CVE-2024-47081 (.netrc credential leak)"),
    "fonttools": ("4.60.1", "4.60.2", "CVE-2025-66034 arbitrary file write from a designspace"),
    "pydantic": ("2.3.0", "2.4.0", "CVE-2024-3772 regular-expression DoS in email validation"),
    "setuptools": ("78.1.0", "78.1.1", "CVE-2025-47273 path traversal in PackageIndex"),
    "python-multipart": ("0.0.17", "0.0.18", "CVE-2024-53981 DoS while parsing form data"),
    "jinja2": ("3.1.5", "3.1.6", "CVE-2025-27516 sandbox escape through |attr"),
    "babel": ("2.9.0", "2.9.1", "CVE-2021-42771 locale-name path traversal"),
    "urllib3": ("2.4.0", "2.5.0", "CVE-2025-50181, CVE-2025-50182 redirect controls ignored"),
    "idna": ("3.6", "3.7", "CVE-2024-3651 quadratic-time encode"),
    "certifi": ("2024.6.2", "2024.7.4", "CVE-2024-39689 distrusted GLOBALTRUST roots"),
    "h11": ("0.14.0", "0.16.0", "CVE-2025-43859 request smuggling via chunked trailers"),
    "starlette": ("0.47.1", "0.47.2", "CVE-2025-54121 blocking multipart upload rollover"),
    "pyyaml": ("5.3.1", "5.4", "CVE-2020-14343 arbitrary code in full_load"),
}

# Files in the runtime packages that only tests and benchmarks import.
TEST_ONLY_MODULES = {Path("devices/idcard/fuzzing.py"): "hypothesis strategies for the ID card fuzz tests"}


def read_lock(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """name -> (pinned version, hashes) of a pip requirements file with --hash options."""
    pins: dict[str, tuple[Version, list[str]]] = {}
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._\[\],-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})*)\s*", line)
        assert match, f"{path.name}: not an exact, hashed pin: {line!r}"
        name = canonicalize_name(match.group(1).split("[")[0])
        pins[name] = (Version(match.group(2)), re.findall(r"sha256:([0-9a-f]{64})", match.group(3)))
    return pins


def declared(groups: list[str]) -> list[Requirement]:
    project = PYPROJECT["project"]
    lists = [project["dependencies"] if g == "dependencies" else project["optional-dependencies"][g]
             for g in groups]
    return [Requirement(r) for r in [*PYPROJECT["build-system"]["requires"], *sum(lists, [])]]


@pytest.fixture(scope="module")
def locks():
    missing = [str(p.relative_to(ROOT)) for p in LOCKS.values() if not p.exists()]
    assert not missing, f"no lock file: {missing} (run `make lock`)"
    return {name: read_lock(path) for name, path in LOCKS.items()}


@pytest.mark.parametrize("lock", list(DECLARED))
def test_every_declared_requirement_is_pinned_with_hashes_in_its_lock(locks, lock):
    pins = locks[lock]
    for requirement in declared(DECLARED[lock]):
        if requirement.marker and not requirement.marker.evaluate({"platform_system": "Linux"}):
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is declared but not pinned in requirements/{lock}.txt"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), \
            f"requirements/{lock}.txt pins {name}=={version}, outside pyproject's {requirement}"
        assert hashes, f"requirements/{lock}.txt pins {name} without a hash"
        for extra in requirement.extras:   # psycopg[binary] -> psycopg-binary
            assert canonicalize_name(f"{name}-{extra}") in pins, f"{requirement}: the [{extra}] part is not pinned"
    assert all(hashes for _, hashes in pins.values()), "pip --require-hashes refuses a pin without a hash"


def test_runtime_lock_holds_no_platform_or_dev_package(locks):
    assert not NOT_ON_A_KIOSK & set(locks["kiosk"]), "the kiosk's runtime lock pulls the platform or dev tools"
    assert not NOT_ON_THE_PLATFORM & set(locks["central"])
    runtime = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert not NOT_ON_A_KIOSK & runtime, "project.dependencies declares the platform or dev tools"


def test_a_package_in_two_locks_has_one_version(locks):
    for name, (version, _) in locks["dev"].items():
        for other in ("kiosk", "central"):
            if name in locks[other]:
                assert locks[other][name][0] == version, f"{name}: {other}.txt and dev.txt pin different versions"
    assert set(locks["kiosk"]) <= set(locks["central"]) <= set(locks["dev"])


def test_bounds_and_pins_are_past_known_vulnerabilities(locks):
    for requirement in declared(["dependencies", "central", "dev"]):
        floor = SECURITY_FLOORS.get(canonicalize_name(requirement.name))
        if floor:
            assert not requirement.specifier.contains(floor[0], prereleases=True), \
                f"pyproject allows {requirement.name} {floor[0]}: {floor[2]}"
    for lock, pins in locks.items():
        for name, (last_bad, fixed, advisory) in SECURITY_FLOORS.items():
            if name in pins:
                assert pins[name][0] >= Version(fixed), f"{lock}.txt pins {name}=={pins[name][0]}: {advisory}"


def third_party_imports(paths: list[Path]) -> dict[str, set[Path]]:
    """Top-level module -> files importing it (lazy imports inside functions too)."""
    first_party = {"kiosk", "devices", "screens", "offline_queue", "provisioning", "central", "common"}
    found: dict[str, set[Path]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {n.split(".")[0] for n in names} - first_party - set(sys.stdlib_module_names):
                found.setdefault(top, set()).add(path.relative_to(ROOT))
    return found


def distributions_of(module: str) -> set[str]:
    return {canonicalize_name(d) for d in importlib.metadata.packages_distributions().get(module, [])}


@pytest.mark.parametrize("lock, packages", [
    ("kiosk", ["kiosk", "devices", "screens", "offline_queue", "provisioning", "common"]),
    ("central", ["central"]),
])
def test_what_the_code_imports_comes_from_its_lock(locks, lock, packages):
    files = [p for pkg in packages for p in sorted((ROOT / pkg).rglob("*.py"))
             if p.relative_to(ROOT) not in TEST_ONLY_MODULES]
    files += [ROOT / "main.py"] if lock == "kiosk" else []
    for module, importers in sorted(third_party_imports(files).items()):
        distributions = distributions_of(module)
        where = ", ".join(sorted(map(str, importers))[:3])
        assert distributions, f"{where} imports {module}, which no installed distribution provides"
        assert distributions & set(locks[lock]), \
            f"{where} imports {module} ({', '.join(sorted(distributions))}), not in requirements/{lock}.txt"


def bootstrap(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(cwd / "scripts" / "bootstrap.sh"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_production_bootstrap_installs_only_the_runtime_lock_and_packages():
    out = bootstrap("--kiosk", "--dry-run")
    assert out.returncode == 0, out.stderr
    lines = dict(re.findall(r"^bootstrap \(kiosk\): ([^:]+): (.*)$", out.stdout, re.MULTILINE))
    assert "requirements/kiosk.txt" in lines["Python packages"]
    debian = set(lines["Debian packages"].split())
    assert {"libzbar0", "cups", "libusb-1.0-0"} <= debian
    assert not {"postgresql", "chromium", "xvfb", "poppler-utils", "libcups2-dev", "gcc"} & debian
    assert "libcups2-dev" in lines["build-only, purged after the build if missing now"]

    dev = bootstrap("--dry-run")
    assert dev.returncode == 0 and "requirements/dev.txt" in dev.stdout and "postgresql" in dev.stdout


@pytest.fixture
def app(tmp_path):
    """A copy of what the bootstrap reads, where a kiosk keeps it; .venv faked."""
    app = tmp_path / "opt" / "kiosk"
    shutil.copytree(ROOT / "requirements", app / "requirements")
    shutil.copytree(ROOT / "scripts", app / "scripts")
    shutil.copy(ROOT / "pyproject.toml", app)
    (app / ".venv" / "bin").mkdir(parents=True)
    (app / ".venv" / "bin" / "kiosk").touch()
    if not shutil.which("dpkg-query") or "missing now: none" not in bootstrap("--kiosk", "--dry-run", cwd=app).stdout:
        pytest.skip("this machine lacks the kiosk's Debian packages (--check also asks for them)")
    return app


def stamp_as_made_for_the_kiosk(app: Path) -> None:
    """What a finished `bootstrap.sh --kiosk` leaves: its profile and the digest of its inputs."""
    req = app / "requirements"
    inputs = [req / "kiosk.txt", req / "apt-kiosk.txt", req / "apt-build.txt", app / "pyproject.toml"]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in inputs)).hexdigest()[:16]
    (app / ".venv" / f".bootstrap-kiosk-{digest}").touch()


def test_bootstrap_stamp_keys_on_the_lock(app):
    """--check (what kioskctl install asks) is true only for a .venv made from today's lock."""
    assert bootstrap("--kiosk", "--check", cwd=app).returncode == 1
    stamp_as_made_for_the_kiosk(app)
    assert bootstrap("--kiosk", "--check", cwd=app).returncode == 0
    assert bootstrap("--check", cwd=app).returncode == 1, "a kiosk .venv passed for the dev profile"
    with (app / "requirements" / "kiosk.txt").open("a") as lock:
        lock.write("# edited\n")
    assert bootstrap("--kiosk", "--check", cwd=app).returncode == 1, "a changed lock did not ask for a re-install"


def test_kioskctl_install_rebuilds_a_venv_not_made_from_the_runtime_lock(tmp_path, app):
    def plan():
        installer = Installer(root=tmp_path / "root", app_dir=app, run=lambda _c: None,
                              user_ids=lambda _n: (0, 0), member_of=lambda _u: set(),
                              which=lambda c: f"/usr/bin/{c}")
        return [s.summary for s in installer.plan()]

    (app / ".venv" / ".bootstrap-dev-0123456789abcdef").touch()   # a dev/test bootstrap's .venv
    steps = plan()
    rebuild = [s for s in steps if "bootstrap.sh" in s]    # later steps (the licence font) use the new .venv
    assert len(rebuild) == 1 and rebuild[0].startswith(f"run {app}/scripts/bootstrap.sh --kiosk ") \
        and "requirements/kiosk.txt" in rebuild[0]
    assert not any("dev.txt" in s or "make bootstrap" in s for s in steps)

    stamp_as_made_for_the_kiosk(app)
    assert not any("bootstrap.sh" in s for s in plan())
