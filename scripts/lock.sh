#!/usr/bin/env bash
# `make lock`: regenerate the hash-pinned lock files in requirements/ from
# pyproject.toml.  The bootstrap installs only from these (pip --require-hashes),
# so a release that is swapped or re-uploaded on the index fails to install
# instead of running on a kiosk.
#
#   requirements/kiosk.txt    project.dependencies: what a production kiosk gets
#   requirements/central.txt  + [central]: the reference platform
#   requirements/dev.txt      + [central] + [dev]: the test/dev machine and CI
#
# Each lock also pins [build-system].requires, because the bootstrap builds the
# project without build isolation.  dev.txt is resolved first and the other two
# are constrained by it, so a package pinned in two locks has one version.
# Existing pins are kept; `make lock LOCK_ARGS=--upgrade` moves everything to
# the newest allowed versions (`--upgrade-package NAME` for one).
#
# uv runs from a throwaway venv (never the project's .venv) because it can
# resolve for a platform other than the one it runs on: the locks are for
# CPython 3.11 on Linux x86_64 (this machine, CI, the kiosks).  For an arm64
# kiosk: LOCK_PLATFORM=aarch64-manylinux_2_28 LOCK_DIR=requirements/aarch64 make lock
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
PYTHON_VERSION="${LOCK_PYTHON:-3.11}"
PLATFORM="${LOCK_PLATFORM:-x86_64-manylinux_2_28}"
OUT="${LOCK_DIR:-requirements}"

tool="$(mktemp -d)"
trap 'rm -rf "$tool"' EXIT
python3 -m venv "$tool/venv"
"$tool/venv/bin/pip" install -q "uv==$UV_VERSION"
python3 -c 'import tomllib, sys; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
  > "$tool/build-system.in"

mkdir -p "$OUT"
compile() {
  local lock="$1"; shift
  echo "lock: $OUT/$lock"
  "$tool/venv/bin/uv" pip compile --quiet --generate-hashes \
    --python-version "$PYTHON_VERSION" --python-platform "$PLATFORM" \
    --custom-compile-command "make lock" \
    --output-file "$OUT/$lock" "$@" ${LOCK_ARGS:-} pyproject.toml "$tool/build-system.in"
  sed -i "s|-r $tool/build-system.in|pyproject.toml [build-system]|" "$OUT/$lock"   # no temp path in the lock
}
compile dev.txt --extra central --extra dev
compile central.txt --extra central --constraint "$OUT/dev.txt"
compile kiosk.txt --constraint "$OUT/dev.txt"
