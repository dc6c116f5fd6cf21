#!/usr/bin/env bash
# Screenshot of the studio on a virtual display, a demo track open and playing on the JACK dummy
# device:  scripts/screenshot.sh OUT.png
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/screenshot.png}
if command -v jackd >/dev/null && ! pgrep -x jackd >/dev/null; then
  JACK_NO_AUDIO_RESERVATION=1 jackd --no-realtime -d dummy -r 48000 -p 256 >/dev/null 2>&1 &
  jack_pid=$!
  trap 'kill $jack_pid 2>/dev/null || true' EXIT
  sleep 1
fi
QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1400x860x24" .venv/bin/python scripts/screenshot.py "$out"
echo "wrote $out"
