#!/usr/bin/env bash
# Idempotent set-up for `make run` / `make test` on a fresh Debian/Ubuntu machine:
# system packages first (only the missing ones), then .venv and the project's
# Python dependencies (re-installed only when pyproject.toml changed).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  xvfb xauth                      # virtual display for headless runs and UI tests
  libzbar0                        # pyzbar's shared library
  libmtdev1                       # Kivy's multitouch input provider
  libgl1-mesa-dri libegl1 libgles2 # Mesa GL for Kivy
  libsdl2-2.0-0                   # Kivy's window and text providers (wheel links it)
  cups                            # a private cupsd for the licence-printer tests
  chromium                        # headless browser for the central fleet page test
  poppler-utils                   # pdftotext/pdftoppm: licence PDF checks and review
  libcups2-dev                    # pycups builds from source (dev dependency)
  postgresql                      # initdb/pg_ctl: the central platform's PostgreSQL tests (throwaway clusters)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Python dependencies"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
