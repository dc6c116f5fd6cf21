#!/usr/bin/env bash
# Install what is missing: Debian packages (when root, or with passwordless sudo) and a .venv with
# Encore installed. Quiet and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  libportaudio2 libsndfile1 jackd2
  xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libxcb-xinerama0
  libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-shape0 libegl1 libgl1 libfontconfig1
  libdbus-1-3 fonts-dejavu-core python3-venv
  g++ python3-dev  # the time stretcher (audio/signalsmith/shim.cpp) is built at install
  gcc python3-dev  # to compile the audio kernels ahead of time (audio/build_kernels.py)
  postgresql
)

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=()
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n)
  else
    echo "Encore needs these Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing system packages: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  # jackd2 asks about realtime priority; the default answer is fine.
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.encore-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Encore and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi

# The audio kernels, compiled ahead of time into the venv (~30-70 s, only when their sources
# changed since the last build): no compiling at Encore's first launch. If it fails, Encore still
# runs and compiles them on first use instead (audio/compiled.py says so).
# numba's pycc needs setuptools at build time only (a venv of Python >= 3.12 has none).
.venv/bin/python -c "import setuptools" 2>/dev/null || .venv/bin/python -m pip install -q setuptools
.venv/bin/python -m audio.build_kernels --if-stale || true
