#!/usr/bin/env bash
# Idempotent set-up of a Debian/Ubuntu machine: system packages first (only the
# missing ones), then .venv with the Python packages of ONE hash-pinned lock
# file (pip --require-hashes), then the project itself (no build isolation, so
# nothing unhashed is fetched).  Re-installs only when the lock changed.
#
#   scripts/bootstrap.sh           dev/test machine and CI (`make run`, `make test`):
#                                  requirements/dev.txt, apt-kiosk + apt-build + apt-dev
#   scripts/bootstrap.sh --kiosk   production kiosk (kioskctl install runs it):
#                                  requirements/kiosk.txt, apt-kiosk; .venv rebuilt from
#                                  the lock alone; build packages purged after the build
#   --check                        exit 0 if .venv is already in place for that profile
#   --dry-run                      print what would be installed, change nothing
set -euo pipefail
cd "$(dirname "$0")/.."

profile=dev check=0 dry_run=0
for arg in "$@"; do
  case "$arg" in
    --kiosk) profile=kiosk ;;
    --check) check=1 ;;
    --dry-run) dry_run=1 ;;
    *) echo "bootstrap: unknown option $arg (use --kiosk, --check, --dry-run)" >&2; exit 2 ;;
  esac
done

if [ "$profile" = kiosk ]; then
  lock=requirements/kiosk.txt
  apt_lists=(requirements/apt-kiosk.txt)
else
  lock=requirements/dev.txt
  apt_lists=(requirements/apt-kiosk.txt requirements/apt-build.txt requirements/apt-dev.txt)
fi

packages_in() { sed -e 's/#.*//' "$@" | tr -s ' \t' '\n' | sed '/^$/d'; }
missing_of() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || echo "$pkg"
  done
}

# The stamp names the profile and the digest of everything that decides what
# gets installed, so a changed lock or package list re-runs the install.
digest=$(cat "$lock" "${apt_lists[@]}" requirements/apt-build.txt pyproject.toml | sha256sum | cut -c1-16)
stamp=".venv/.bootstrap-$profile-$digest"

mapfile -t apt_wanted < <(packages_in "${apt_lists[@]}")
mapfile -t apt_missing < <(missing_of "${apt_wanted[@]}")

if ((check)); then
  [ -f "$stamp" ] && ((${#apt_missing[@]} == 0))
  exit
fi

if ((dry_run)); then
  echo "bootstrap ($profile): Debian packages: ${apt_wanted[*]}"
  echo "bootstrap ($profile): missing now: ${apt_missing[*]:-none}"
  [ "$profile" != kiosk ] || echo "bootstrap ($profile): build-only, purged after the build if missing now: $(packages_in requirements/apt-build.txt | tr '\n' ' ')"
  echo "bootstrap ($profile): Python packages: $lock ($(grep -c '^[a-z0-9]' "$lock") pinned, hash-checked)"
  if [ -f "$stamp" ]; then echo "bootstrap ($profile): .venv is up to date"; else echo "bootstrap ($profile): .venv would be (re)built"; fi
  exit 0
fi

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_install() {
  echo "bootstrap: installing system packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
((${#apt_missing[@]} == 0)) || apt_install "${apt_missing[@]}"

if [ -f "$stamp" ]; then
  exit 0
fi

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys, platform; sys.exit(sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64")'; then
  echo "bootstrap: requirements/*.txt are locked for CPython 3.11 on Linux x86_64; this is" \
       "$("$PY" -c 'import platform; print(platform.python_version(), platform.machine())')." \
       "Lock for this machine first (scripts/lock.sh explains LOCK_PLATFORM/LOCK_PYTHON) or set PYTHON=python3.11." >&2
  exit 1
fi

# A kiosk's .venv holds the runtime lock and nothing else: rebuild it rather
# than install over what an earlier (dev) bootstrap left in it.
if [ "$profile" = kiosk ] && [ -d .venv ]; then
  echo "bootstrap: rebuilding .venv from $lock only"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi

build_installed=()
if [ "$profile" = kiosk ]; then
  mapfile -t build_installed < <(missing_of $(packages_in requirements/apt-build.txt))
  ((${#build_installed[@]} == 0)) || apt_install "${build_installed[@]}"
fi

echo "bootstrap: installing Python packages from $lock (hash-checked)"
.venv/bin/pip install -q --require-hashes -r "$lock"
.venv/bin/pip install -q --no-deps --no-build-isolation -e .
.venv/bin/pip check

if ((${#build_installed[@]})); then
  echo "bootstrap: removing the build-only packages again: ${build_installed[*]}"
  $SUDO apt-get purge -y -qq --autoremove "${build_installed[@]}" >/dev/null
fi
rm -f .venv/.bootstrap-* .venv/.installed-*
touch "$stamp"
