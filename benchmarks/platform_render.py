"""Platform render of a 4-minute, 8-stem submission: end to end and per stage, vs the 3 s target.

Run from the repository root:  .venv/bin/python benchmarks/platform_render.py [--repeat N]
Prints ONE JSON line (progress goes to stderr). Figures are recorded in benchmarks/README.md.

The submission is built like the demo catalog: 8 stems of the demo music (server.demo_music),
each looped to 4 minutes and stored as 16-bit 48 kHz FLAC under `.cache/platform-bench/`
(built once, reused). The remix document changes gain, pan, EQ, filters and both sends, so the
full strip and both buses run. Timed:

* `end_to_end`: `server.pipeline.render_to_file` exactly as the worker calls it (decode, render,
  loudness normalisation, 24-bit FLAC write), `--repeat` times; wall and process CPU seconds.
* `stages`: each stage on its own, once per repeat: `decode` (every window of every stem through
  `server.stemsource.DecodingSource`), `render` (`server.pipeline.render_document`: decode +
  `audio.offline.render_mix`), `measure` (`server.loudness.measure`: integrated loudness and
  true peak of that mix) and `write` (`server.pipeline.write_flac`: gain, clip, 24-bit FLAC).

The machine is shared: every figure carries wall and CPU time, and the load average is sampled
before and after. `ratio_to_target` is the best end-to-end wall time over 3 s (<= 1 is met).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import machine_info  # noqa: E402
from core.contract import RemixDocument  # noqa: E402
from server.db import Stem, Track  # noqa: E402
from server.demo_music import SAMPLE_RATE, write_demo_catalog  # noqa: E402
from server.storage import Storage  # noqa: E402

TARGET_S = 3.0
N_STEMS = 8
SECONDS = 240.0
TRACK_ID = "bench-4min"
BENCH_VERSION = "1"  # bump when the way the submission is built changes


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build_submission(data_dir: Path) -> tuple[Track, Storage]:
    """8 demo stems looped to 4 minutes, 16-bit FLAC in data_dir's storage layout (cached)."""
    storage = Storage(data_dir)
    frames = int(SECONDS * SAMPLE_RATE)
    catalog = write_demo_catalog(REPO / ".cache" / "demo-catalog")
    sources = [(t, s) for t in catalog for s in t["stems"]][:N_STEMS]
    stems = []
    for position, (_track, stem) in enumerate(sources):
        stem_id = f"s{position}-{stem['kind']}"
        relpath = storage.stem_relpath(TRACK_ID, stem_id)
        path = storage.path(relpath)
        marker = path.with_suffix(".ok")
        if marker.exists() and marker.read_text() == BENCH_VERSION:
            info = sf.info(str(path))
        else:
            log(f"building {relpath} ...")
            audio, rate = sf.read(
                str(REPO / ".cache" / "demo-catalog" / stem["file"]), dtype="float32"
            )
            assert rate == SAMPLE_RATE
            looped = np.resize(audio, (frames, audio.shape[1]))  # repeats the stem to fill
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), looped, rate, format="FLAC", subtype="PCM_16")
            marker.write_text(BENCH_VERSION)
            info = sf.info(str(path))
        data = path.read_bytes()
        stems.append(
            Stem(
                id=stem_id,
                name=stem["name"],
                kind=stem["kind"],
                path=relpath,
                frames=info.frames,
                sample_rate=info.samplerate,
                channels=info.channels,
                duration=info.frames / info.samplerate,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                position=position,
            )
        )
    track = Track(id=TRACK_ID, version=1, title="bench", bpm=120.0, key="A minor", policy={})
    track.stems = stems
    return track, storage


def document(track: Track) -> RemixDocument:
    """A typical fan remix: rebalanced, one stem muted, EQ/filters and sends on several stems."""
    ids = [s.id for s in track.stems]
    stems: dict[str, dict[str, Any]] = {
        ids[0]: {"gain_db": -3.0, "pan": -0.2, "eq_low_db": 3.0},
        ids[1]: {"gain_db": 2.0, "eq_high_db": -2.0, "send_reverb": 0.3},
        ids[2]: {"mute": True},
        ids[3]: {"pan": 0.4, "hp_hz": 120.0, "send_delay": 0.25},
        ids[4]: {"lp_hz": 6000.0, "send_reverb": 0.2, "eq_mid_db": 2.0},
        ids[5]: {"gain_db": -6.0},
    }
    return RemixDocument(track_id=TRACK_ID, track_version=1, title="bench remix", stems=stems)


def timed(fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    load = os.getloadavg()[0]
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return result, {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "load1": round(load, 2)}


def decode_all(track: Track, storage: Storage) -> int:
    from server.stemsource import DecodingSource

    with DecodingSource([storage.path(s.path) for s in track.stems]) as source:
        block = np.empty((source.n_stems, 2, source.window), dtype=np.float32)
        for start in range(0, source.n_frames, source.window):
            source.read(start, block)
        return source.n_frames


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    walls = sorted(r["wall_s"] for r in runs)
    cpus = sorted(r["cpu_s"] for r in runs)
    return {
        "wall_s": walls,
        "cpu_s": cpus,
        "best_wall_s": walls[0],
        "median_wall_s": walls[len(walls) // 2],
        "median_cpu_s": cpus[len(cpus) // 2],
        "load1": [r["load1"] for r in runs],
    }


def run(repeat: int, stages: bool) -> dict[str, Any]:
    from server import pipeline
    from server.loudness import measure

    data_dir = REPO / ".cache" / "platform-bench"
    track, storage = build_submission(data_dir)
    doc = document(track)
    load_before = list(os.getloadavg())

    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "remix.flac"
        log("warm-up (numba compile, page cache) ...")
        pipeline.render_to_file(doc, track, storage, target)
        first = hashlib.sha256(target.read_bytes()).hexdigest()

        e2e, loudness = [], None
        for i in range(repeat):
            loudness, t = timed(lambda: pipeline.render_to_file(doc, track, storage, target))
            e2e.append(t)
            same = hashlib.sha256(target.read_bytes()).hexdigest() == first
            log(f"end to end {i + 1}/{repeat}: {t} identical={same}")
            if not same:
                raise SystemExit("render_to_file is not deterministic: two runs differ")
        out_info = sf.info(str(target))

        per_stage: dict[str, list[dict[str, float]]] = {}
        if stages:
            for i in range(repeat):
                per_stage.setdefault("decode", []).append(
                    timed(lambda: decode_all(track, storage))[1]
                )
                (mix, rate), t = timed(lambda: pipeline.render_document(doc, track, storage))
                per_stage.setdefault("render", []).append(t)
                measured, t = timed(functools.partial(measure, mix, rate))
                per_stage.setdefault("measure", []).append(t)
                write = functools.partial(pipeline.write_flac, target, mix, rate, measured.gain)
                per_stage.setdefault("write", []).append(timed(write)[1])
                del mix, write
                log(f"stages {i + 1}/{repeat}: " + ", ".join(
                    f"{k} {v[-1]['wall_s']} s" for k, v in per_stage.items()
                ))  # fmt: skip

    best = min(r["wall_s"] for r in e2e)
    assert loudness is not None
    return {
        "benchmark": "platform_render",
        "submission": {
            "stems": N_STEMS,
            "seconds": SECONDS,
            "sample_rate": SAMPLE_RATE,
            "format": "FLAC PCM_16",
        },
        "output": {"frames": out_info.frames, "subtype": out_info.subtype, "sha256": first},
        "loudness": {
            "measured_lufs": round(loudness.measured_lufs, 3),
            "true_peak_dbtp": round(loudness.true_peak_dbtp, 3),
            "gain_db": round(loudness.gain_db, 3),
            "output_lufs": round(loudness.output_lufs, 3),
            "output_true_peak_dbtp": round(loudness.output_true_peak_dbtp, 3),
        },
        "end_to_end": summary(e2e),
        "stages": {name: summary(runs) for name, runs in per_stage.items()},
        "target_s": TARGET_S,
        "ratio_to_target": round(best / TARGET_S, 3),
        "met": best <= TARGET_S,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "machine": machine_info(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each case")
    parser.add_argument("--no-stages", action="store_true", help="end to end only")
    args = parser.parse_args()
    print(json.dumps(run(max(1, args.repeat), not args.no_stages)), flush=True)


if __name__ == "__main__":
    main()
