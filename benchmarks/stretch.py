"""Offline tempo/key (audio.stretch, Rubber Band R3) speed: 8 stereo stems x 60 s, per setting.

Run from the repository root:  .venv/bin/python benchmarks/stretch.py [--quick] [--repeat N]
Prints ONE JSON line (progress goes to stderr). ~10 min on the 2-core VM (--quick: ~3 min).

Material: the first 8 stems of the demo catalog (server.demo_music, cached under
`.cache/demo-catalog/`), first 60 s (tiled if shorter): real arrangement gaps (~20 % exact
digital silence on average) and two dual-mono bass stems. `dense`: 8 synthetic stereo stems
with no silence and different channels (tones + noise + clicks), the worst case for the silence
and dual-mono shortcuts.

Every variant calls `audio.stretch.stretch_stems` with a `Settings` and a worker count, for
tempo 1.25 / key +2 and tempo 0.9 / key 0, all in this one process (A/B under the same load).
`wall_s` is elapsed time, `cpu_s` the process CPU time (all threads); `x_rt` = 60 s / wall_s is
the figure against the 10x target, `x_rt_cpu` = 60 s / cpu_s is what one core would give with
nothing else running. The VM is shared with other jobs: the load average is sampled around
every variant. `identical_across_workers`: the adopted settings give the same samples with 1
and with 2+ workers (the parallelism does not change the render).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from audio import stretch  # noqa: E402
from audio.stretch import DEFAULT, Settings  # noqa: E402
from benchmarks.machine import machine_info  # noqa: E402

SR = 48000
N_STEMS = 8
SECONDS = 60.0
CASES = ((1.25, 2), (0.9, 0))
TARGET_X_RT = 10.0

BEFORE = Settings(window_short=False, skip_silence=False, mono_when_identical=False)
"""What audio/stretch.py did before this pass (standard R3 windows, whole stems, serial)."""

# name -> (settings, workers); workers None = one per core (what the app does)
VARIANTS: dict[str, tuple[Settings, int | None]] = {
    "before (R3 standard, serial)": (BEFORE, 1),
    "R3 standard + skip/mono, parallel": (replace(DEFAULT, window_short=False), None),
    "R3 short, serial, no skip/mono": (
        replace(DEFAULT, skip_silence=False, mono_when_identical=False),
        1,
    ),
    "R3 short + skip/mono, serial": (DEFAULT, 1),
    "R3 short, parallel, no skip/mono": (
        replace(DEFAULT, skip_silence=False, mono_when_identical=False),
        None,
    ),
    "ADOPTED: R3 short + skip/mono, parallel": (DEFAULT, None),
    "adopted + CHANNELS_APART": (replace(DEFAULT, channels_together=False), None),
    "adopted + PitchHighSpeed": (replace(DEFAULT, pitch_high_quality=False), None),
    "adopted, chunk 4096": (replace(DEFAULT, chunk=4096), None),
    "adopted, chunk 65536": (replace(DEFAULT, chunk=65536), None),
    "R2 (reference, not R3) + skip/mono, parallel": (replace(DEFAULT, engine_finer=False), None),
}
QUICK = ("before (R3 standard, serial)", "ADOPTED: R3 short + skip/mono, parallel")
DENSE = ("R3 short, serial, no skip/mono", "ADOPTED: R3 short + skip/mono, parallel")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def demo_stems() -> np.ndarray:
    import soundfile as sf

    from server.demo_music import write_demo_catalog

    directory = REPO / ".cache" / "demo-catalog"
    catalog = write_demo_catalog(directory)
    files = [s["file"] for t in catalog for s in t["stems"]][:N_STEMS]
    n = int(SECONDS * SR)
    out = np.zeros((len(files), 2, n), dtype=np.float32)
    for i, name in enumerate(files):
        audio, rate = sf.read(str(directory / name), dtype="float32", always_2d=True)
        assert rate == SR
        chans = [audio[:, min(c, audio.shape[1] - 1)] for c in range(2)]
        out[i] = [np.resize(ch, n) for ch in chans]  # np.resize tiles a short stem
    return out


def dense_stems(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(SECONDS * SR)
    t = np.arange(n) / SR
    out = np.empty((N_STEMS, 2, n), dtype=np.float32)
    for s in range(N_STEMS):
        f = 110.0 * 2 ** (s / 3)
        tone = 0.15 * np.sin(2 * np.pi * f * t) + 0.05 * np.sin(2 * np.pi * 2.01 * f * t)
        clicks = (np.mod(t + 0.031 * s, 0.5) < 0.002) * 0.5
        for c in range(2):
            out[s, c] = tone * (1.0 - 0.3 * c) + 0.02 * rng.standard_normal(n) + clicks
    return out


def run_variant(stems: np.ndarray, settings: Settings, workers: int | None) -> dict[str, Any]:
    res: dict[str, Any] = {"loadavg_before": round(os.getloadavg()[0], 2)}
    for tempo, key in CASES:
        w, c = time.perf_counter(), time.process_time()
        stretch.stretch_stems(stems, SR, tempo, key, workers=workers, settings=settings)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        res[f"tempo {tempo} key {key:+d}"] = {
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "x_rt": round(SECONDS / wall, 2),
            "x_rt_cpu": round(SECONDS / cpu, 2),
        }
    res["loadavg_after"] = round(os.getloadavg()[0], 2)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only 'before' and the adopted settings")
    ap.add_argument("--repeat", type=int, default=1, help="rounds over all variants")
    args = ap.parse_args()

    stretch.pylibrb_quiet()
    materials = {"demo": demo_stems(), "dense": dense_stems()}
    silent = float(np.mean(~(materials["demo"] != 0).any(axis=1)))
    names = list(QUICK if args.quick else VARIANTS)
    results: dict[str, dict[str, list[dict[str, Any]]]] = {m: {} for m in materials}
    for r in range(args.repeat):
        for material, stems in materials.items():
            for name in names if material == "demo" else [n for n in names if n in DENSE]:
                log(f"round {r + 1}/{args.repeat} {material}: {name} ...")
                settings, workers = VARIANTS[name]
                results[material].setdefault(name, []).append(run_variant(stems, settings, workers))

    # Same samples with 1 and with N workers (demo material, first case).
    tempo, key = CASES[0]
    one = stretch.stretch_stems(materials["demo"], SR, tempo, key, workers=1)
    many = stretch.stretch_stems(materials["demo"], SR, tempo, key, workers=os.cpu_count())
    identical = bool(np.array_equal(one, many))

    worst = min(
        min(run[f"tempo {t} key {k:+d}"]["x_rt"] for t, k in CASES)
        for run in results["demo"]["ADOPTED: R3 short + skip/mono, parallel"]
    )
    print(
        json.dumps(
            {
                "machine": machine_info(),
                "sample_rate": SR,
                "stems": N_STEMS,
                "seconds": SECONDS,
                "demo_exact_silence_fraction": round(silent, 3),
                "adopted_settings": asdict(DEFAULT),
                "workers_default": os.cpu_count(),
                "identical_across_workers": identical,
                "results": results,
                "target_x_rt": TARGET_X_RT,
                "adopted_worst_case_x_rt_demo": worst,
                "met": worst >= TARGET_X_RT,
            }
        )
    )


if __name__ == "__main__":
    main()
