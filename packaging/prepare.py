"""What the bundle carries that is made, not copied: `make bundle` runs this before PyInstaller.

    .venv/bin/python packaging/prepare.py [--out build/bundle] [--cpu x86-64-v2]

* the audio kernels compiled ahead of time (audio/build_kernels.py) for a CPU every target
  machine has (not this machine's: a bundle travels), into OUT/kernels; rebuilt only when the
  kernel sources or the CPU changed. The bundle then needs neither numba nor a compiler;
* the demo catalog's music composed (server/demo_music.py), into OUT/demo-catalog, so that a
  fan's first launch seeds the embedded platform from it instead of composing for seconds.
  The checkout's `.cache/demo-catalog` (the tests') is copied when it is current.

Prints what it did. Nothing is written into the checkout outside OUT (build/ is gitignored).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CPU = "x86-64-v2"  # every x86-64 PC since ~2009 (SSE4.2, POPCNT); kernels' bits are equal


def kernel_build(out: Path) -> dict[str, str] | None:
    """The digest and CPU of the build in `out`, asked of a fresh interpreter (None: no build)."""
    code = (
        f"import sys, json; sys.path.insert(0, {str(out)!r}); import encore_kernels as e; "
        "print(json.dumps({'digest': e.digest(), 'cpu': e.target_cpu(), 'file': e.__file__}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        return None
    info = json.loads(done.stdout.strip().splitlines()[-1])
    if not info["file"].startswith(str(out)):
        return None  # found elsewhere on sys.path (the venv's own build), not in `out`
    return info


def kernels(out: Path, cpu: str) -> Path:
    sys.path.insert(0, str(REPO))
    from audio.compiled import source_digest

    target = out / "kernels"
    want = source_digest(REPO)
    have = kernel_build(target)
    if have is not None and have["digest"] == want and have["cpu"] == cpu:
        print(f"kernels: current ({cpu}, {Path(have['file']).name})")
        return Path(have["file"])
    t0 = time.perf_counter()
    # A fresh interpreter: the build must not share a process that has imported the kernels.
    subprocess.run(
        [sys.executable, "-m", "audio.build_kernels", "--out", str(target), "--cpu", cpu],
        cwd=REPO,
        check=True,
    )
    have = kernel_build(target)
    if have is None or have["digest"] != want:
        raise SystemExit(f"kernels: the build in {target} does not import or is not current")
    print(f"kernels: built for {cpu} in {time.perf_counter() - t0:.0f} s")
    return Path(have["file"])


def demo_catalog(out: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from server.demo_music import GENERATOR_VERSION, write_demo_catalog

    target = out / "demo-catalog"
    source = REPO / ".cache" / "demo-catalog"

    def current(path: Path) -> bool:
        try:
            tracks = json.loads((path / "catalog.json").read_text())
        except (OSError, ValueError):
            return False
        return bool(tracks) and all(t.get("generator_version") == GENERATOR_VERSION for t in tracks)

    if not current(target) and current(source):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".*"))
    t0 = time.perf_counter()
    tracks = write_demo_catalog(target)  # checks sizes; composes only what is missing or old
    print(f"demo catalog: {len(tracks)} tracks ready ({time.perf_counter() - t0:.1f} s)")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bundle")
    parser.add_argument("--cpu", default=DEFAULT_CPU, help=f"kernels' target CPU ({DEFAULT_CPU})")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    kernels(out, args.cpu)
    demo_catalog(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
