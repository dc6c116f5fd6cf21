#!/usr/bin/env bash
# Start Encore. On a machine with no sound card (a server, CI, a VM) start the JACK dummy device
# first, so playback runs against a real clocked device instead of failing; with no display, a
# virtual one. Whatever this script starts, it stops when Encore exits.
set -euo pipefail
cd "$(dirname "$0")/.."
started=()
cleanup() { for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

if ! grep -q '[0-9]' /proc/asound/cards 2>/dev/null && command -v jackd >/dev/null \
   && ! pgrep -x jackd >/dev/null; then
  echo "No sound card found: starting the JACK dummy device (silent, real-time clocked)."
  JACK_NO_AUDIO_RESERVATION=1 jackd --no-realtime -d dummy -r 48000 -p 256 >/dev/null 2>&1 &
  started+=($!)
  sleep 1
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "No display found: starting a virtual one (Xvfb :99; 'make screenshot' shows the studio)."
  Xvfb :99 -screen 0 1400x900x24 >/dev/null 2>&1 &
  started+=($!)
  export DISPLAY=:99
  sleep 1
fi
.venv/bin/encore "$@"
