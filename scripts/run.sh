#!/usr/bin/env bash
# Start the kiosk on its embedded defaults.  With no display (no $DISPLAY and
# no Wayland), run on a virtual display and keep screenshots under var/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  mkdir -p var/screenshots
  export KIOSK_SCREENSHOT_DIR="$PWD/var/screenshots"
  echo "run: no display found; starting on a virtual display (Xvfb)."
  echo "run: screenshots of each screen the kiosk shows go to $KIOSK_SCREENSHOT_DIR"
  exec xvfb-run -a -s "-screen 0 1920x1080x24 +extension GLX" .venv/bin/kiosk "$@"
fi
exec .venv/bin/kiosk "$@"
