"""Start the built bundle as a fan's desktop would and check that it plays: `make bundle-check`.

    .venv/bin/python packaging/smoke.py [--bundle dist/encore] [--pairs 1] [--warm 1] [--json-only]

First the bundle's install-desktop.sh installs its .desktop file into a fresh HOME (checked
with desktop-file-validate when installed); each launch then runs the executable that .desktop
file's Exec line names, with `--smoke-test` (packaging/bundle_smoke.py: the real studio
signs in to its embedded platform as the demo fan through the sign-in window, clicks the first
track, clicks Play and hears 2 s of it) with an environment that holds nothing of the
development machine's: no PATH (so no venv), no PYTHONPATH, only HOME (a fresh empty folder,
per pair of launches), DISPLAY (a private Xvfb), QT_QPA_PLATFORM=xcb and the JACK server to
use (JACK_DEFAULT_SERVER: a private `jackd -d dummy`, started as the tests start theirs,
tests/plugins/jack.py; JACK_NO_START_SERVER so no other server is ever spawned). The studio
picks its output device itself (no --device), as on a first launch.

Each pair starts with a cold launch: an empty HOME (no platform data, no settings, no stem
cache) and the bundle's files dropped from the OS page cache (posix_fadvise DONTNEED on each of
them, as after an install or a reboot; the system's own libraries stay cached, as on a running
desktop). The launches after it are warm (the same HOME, the files cached). After each launch
no process of the bundle may be left (the embedded platform stops with the studio).

Prints ONE JSON line: cold and warm median and worst seconds from spawn to "usable" (the track
open and playing, as benchmarks/startup.py defines it); per launch every milestone, what was
played and heard, the kernels in use (numba imported or not) and where the native libraries
were loaded from; the bundle's size on disk (MB of 10^6 bytes); the machine and load average.
Exit status 0 only if every launch passed. Nothing is written into the checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MARKER = "ENCORE_SMOKE"
LAUNCH_TIMEOUT_S = 240.0


def log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def disk_size(path: Path) -> int:
    """Bytes the bundle takes on disk (allocated blocks, as `du` counts them)."""
    return sum(p.lstat().st_blocks * 512 for p in path.rglob("*"))


def start_xvfb(work: Path) -> tuple[subprocess.Popen, str]:
    """A private X server on a free display number (Xvfb -displayfd picks and reports it)."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise RuntimeError("Xvfb is not installed (apt-get install xvfb)")
    read, write = os.pipe()
    log_file = open(work / "xvfb.log", "w")  # noqa: SIM115 (the child keeps its copy)
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        preexec_fn=_die_with_parent,
    )
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    if not number:
        proc.kill()
        raise RuntimeError(f"Xvfb did not start: {(work / 'xvfb.log').read_text()[-1000:]}")
    return proc, f":{number}"


def _die_with_parent() -> None:
    sys.path.insert(0, str(REPO))
    from tests.plugins.jack import die_with_parent

    die_with_parent()


def bundle_processes(marker: str) -> list[str]:
    """Processes whose command line mentions `marker` (the launch's HOME): leftovers."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if marker in cmdline or marker.encode() in environ:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def install_desktop_entry(bundle: Path, home: Path) -> Path:
    """Run the bundle's install-desktop.sh for `home`; the executable its .desktop file names."""
    subprocess.run(
        ["/bin/sh", str(bundle / "install-desktop.sh")],
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    entry = home / ".local" / "share" / "applications" / "encore.desktop"
    validate = shutil.which("desktop-file-validate")
    if validate is not None:
        subprocess.run([validate, str(entry)], check=True)
    exec_line = next(ln for ln in entry.read_text().splitlines() if ln.startswith("Exec="))
    args = shlex.split(exec_line.removeprefix("Exec="))
    if args[1:] != ["%U"] or not os.path.samefile(args[0], bundle / "encore"):
        raise RuntimeError(f"the installed .desktop file does not start the bundle: {exec_line}")
    return Path(args[0])


def evict(bundle: Path) -> int:
    """Drop the bundle's files from the page cache (their clean pages only: nothing else is
    touched); the number of files."""
    count = 0
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                count += 1
            finally:
                os.close(fd)
    return count


def launch(exe: Path, env: dict[str, str], work: Path, name: str) -> dict[str, Any]:
    """One launch of the bundle's smoke test: its milestones relative to the spawn."""
    out_path, err_path = work / f"{name}.out", work / f"{name}.err"
    t0 = time.perf_counter()
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(
            [str(exe), "--smoke-test"],
            env=env,
            cwd=env["HOME"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own group: a hung launch is killed whole
        )
        try:
            code = proc.wait(LAUNCH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = "timeout"
    wall = time.perf_counter() - t0
    stdout, stderr = out_path.read_text(), err_path.read_text()
    lines = [ln for ln in stdout.splitlines() if ln.startswith(MARKER + " ")]
    result: dict[str, Any] = {"exit": code, "wall_s": round(wall, 3)}
    if lines:
        report = json.loads(lines[-1][len(MARKER) + 1 :])
        marks = report.pop("marks", {})
        result["milestones_s"] = {
            k: round(v - t0, 3) for k, v in sorted(marks.items(), key=lambda kv: kv[1])
        }
        result.update(report)
    else:
        result["errors"] = ["the bundle printed no smoke report"]
    time.sleep(0.5)  # the platform child exits right after the studio (its stdin closes)
    leftovers = bundle_processes(env["HOME"])
    if leftovers:
        result.setdefault("errors", []).append(f"processes left behind: {leftovers}")
        for line in leftovers:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
    result["ok"] = code == 0 and not result.get("errors")
    if not result["ok"]:
        result["stderr_tail"] = stderr[-3000:]
    return result


def summary(runs: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    """Median and worst seconds from spawn to "usable" over the launches of one kind."""
    values = [r["milestones_s"]["usable"] for r in runs if r["launch"] == kind and r["ok"]]
    if not values:
        return None
    return {"median_s": round(statistics.median(values), 2), "max_s": round(max(values), 2)}


def run(
    bundle: Path, pairs: int, warm: int, quiet: bool, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """`pairs` times: a fresh HOME, a cold launch, then `warm` warm launches on that HOME."""
    sys.path.insert(0, str(REPO))
    from benchmarks.machine import machine_info
    from tests.plugins.jack import jack_server

    if not (bundle / "encore").is_file():
        raise SystemExit(f"No bundle at {bundle}: build it with `make bundle`.")
    result: dict[str, Any] = {
        "bundle": str(bundle),
        "bundle_mb": round(disk_size(bundle) / 1e6, 1),
        "machine": machine_info(),
    }
    work = Path(tempfile.mkdtemp(prefix="encore-bundle-smoke-"))
    xvfb = None
    try:
        xvfb, display = start_xvfb(work)
        server = f"encore-smoke-{os.getpid()}"
        runs: list[dict[str, Any]] = []
        with jack_server(name=server):
            for pair in range(pairs):
                home = work / f"home-{pair}"
                home.mkdir()
                exe = install_desktop_entry(bundle, home)  # what the applications menu starts
                env = {
                    "HOME": str(home),
                    "DISPLAY": display,
                    "QT_QPA_PLATFORM": "xcb",
                    "JACK_DEFAULT_SERVER": server,
                    "JACK_NO_START_SERVER": "1",
                    **(extra_env or {}),
                }
                for i in range(1 + warm):
                    kind = "cold" if i == 0 else "warm"
                    if kind == "cold":
                        evict(bundle)
                    name = f"launch-{pair}-{i}"
                    # The cold launch also submits (a new platform: no earlier identical remix).
                    run_env = {**env, "ENCORE_SMOKE_SUBMIT": "1"} if kind == "cold" else env
                    runs.append({"launch": kind, **launch(exe, run_env, work, name)})
                    log(quiet, f"{kind}: {json.dumps(runs[-1])}")
        result["cold"] = summary(runs, "cold")
        result["warm"] = summary(runs, "warm")
        result["launches"] = runs
        result["ok"] = all(r["ok"] for r in runs)
        result["loadavg_end"] = os.getloadavg()[0]
        return result
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=REPO / "dist" / "encore")
    parser.add_argument("--pairs", type=int, default=1, help="fresh HOMEs, each launched cold (1)")
    parser.add_argument("--warm", type=int, default=1, help="warm launches after each cold one (1)")
    parser.add_argument("--json-only", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one more variable for the bundle (e.g. ENCORE_DEMO_REMIXES=0), repeatable",
    )
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    result = run(
        args.bundle.resolve(), max(1, args.pairs), max(0, args.warm), args.json_only, extra
    )
    result["extra_env"] = extra
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
