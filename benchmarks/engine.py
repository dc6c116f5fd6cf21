"""Engine.process cost per block vs the real-time budget, offline render speed, optional soak.

Run from the repository root:  .venv/bin/python benchmarks/engine.py [--soak SECONDS]
Prints ONE JSON line. Figures are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audio import dsp
from audio.engine import Engine
from audio.offline import render_mix
from benchmarks.machine import machine_info

SR = 48000
STEM_COUNTS = (4, 8, 16, 32)
BLOCKS = (64, 128, 256)
TRACK_SECONDS = 5.0
# Enough blocks for a meaningful p99.9 while keeping the default run well under a minute.
BLOCKS_PER_CASE = 12000


def make_stems(n_stems: int, seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    return (rng.standard_normal((n_stems, 2, n), dtype=np.float32) * 0.05).astype(np.float32)


def full_strip(n_stems: int) -> tuple[np.ndarray, np.ndarray]:
    """Every stage on: 3-band EQ, HP and LP on every stem, both sends, both buses."""
    strip = np.tile(dsp.STRIP_DEFAULTS, (n_stems, 1))
    strip[:, dsp.P_EQ_LOW] = np.linspace(-6, 6, n_stems)
    strip[:, dsp.P_EQ_MID] = np.linspace(3, -3, n_stems)
    strip[:, dsp.P_EQ_HIGH] = 2.0
    strip[:, dsp.P_HP] = 40.0
    strip[:, dsp.P_LP] = 16000.0
    strip[:, dsp.P_SEND_REVERB] = 0.3
    strip[:, dsp.P_SEND_DELAY] = 0.2
    bus = dsp.BUS_DEFAULTS.copy()
    return strip, bus


def bench_case(stems: np.ndarray, block: int) -> dict:
    n_stems = stems.shape[0]
    engine = Engine(SR, max_block=block, max_stems=n_stems)
    engine.load(stems, [f"s{i}" for i in range(n_stems)])
    strip, bus = full_strip(n_stems)
    engine.set_strip(strip)
    engine.set_bus(bus)
    engine.set_master_gain_db(6.0)  # hot enough that the limiter works
    engine.play()
    out = np.zeros((block, 2), dtype=np.float32)
    for _ in range(200):  # warm-up: caches, first-touch of scratch arrays
        engine.process(out)
    times = np.empty(BLOCKS_PER_CASE, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(BLOCKS_PER_CASE):
        # A gain change every block, as a UI thread would write it: the ramp path is always on.
        engine.set_gain_db(i % n_stems, -6.0 if (i // n_stems) % 2 else 0.0)
        if i % 8 == 0:  # and an EQ move every 8th block: coefficient recompute + ramp
            engine.set_eq(i % n_stems, (i // 8) % 13 - 6.0, 0.0, 2.0)
        if not engine.playing:  # end of track: start again from the top
            engine.play()
        t0 = clock()
        engine.process(out)
        times[i] = clock() - t0
    assert engine.callback_errors == 0, engine.last_error
    us = times / 1000.0
    budget_us = block / SR * 1e6
    stats = {
        "mean": float(us.mean()),
        "p99": float(np.percentile(us, 99)),
        "p99.9": float(np.percentile(us, 99.9)),
        "max": float(us.max()),
    }
    return {
        "stems": n_stems,
        "block": block,
        "budget_us": round(budget_us, 1),
        "us": {k: round(v, 1) for k, v in stats.items()},
        "fraction_of_budget": {k: round(v / budget_us, 4) for k, v in stats.items()},
    }


def bench_tempo(n_stems: int, block: int, seconds: float, ratio: float, key: int) -> dict:
    """Live tempo/key (audio.livestretch): the full strip at `ratio`/`key`, paced in real time
    (each block waits for its due time, as a device would call it), so the stretch worker runs
    concurrently as in the app. Reports the callback's cost per block (ring copy + mix), the
    worker's CPU time per second of output, and frames the worker did not deliver in time."""
    stems = make_stems(n_stems, max(seconds * ratio + 5.0, 30.0), seed=n_stems)
    engine = Engine(SR, max_block=block, max_stems=n_stems)
    engine.load(stems, [f"s{i}" for i in range(n_stems)])
    strip, bus = full_strip(n_stems)
    engine.set_strip(strip)
    engine.set_bus(bus)
    engine.set_master_gain_db(6.0)
    engine.play()
    out = np.zeros((block, 2), dtype=np.float32)
    for _ in range(200):  # warm-up, unstretched
        engine.process(out)
    n_blocks = round(seconds * SR / block)
    clock = time.perf_counter_ns
    period = block / SR

    def paced(times: np.ndarray | None, count: int) -> None:
        t_start = time.perf_counter()
        for i in range(count):
            delay = t_start + i * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t0 = clock()
            engine.process(out)
            if times is not None:
                times[i] = clock() - t0

    def summary(times: np.ndarray) -> dict:
        us = times / 1000.0
        return {
            "mean": round(float(us.mean()), 1),
            "p99": round(float(np.percentile(us, 99)), 1),
            "p99.9": round(float(np.percentile(us, 99.9)), 1),
            "max": round(float(us.max()), 1),
        }

    plain = np.empty(n_blocks, dtype=np.int64)
    paced(plain, n_blocks)  # the same paced loop without the stretcher: the baseline
    engine.set_stretch(ratio, key)
    times = np.empty(n_blocks, dtype=np.int64)
    st = engine.stretcher
    paced(None, round(0.5 * SR / block))  # the switch, its priming and the crossfade
    engine.reset_diagnostics()
    engine.process(out)
    cpu0, frames0, pos0 = st.worker_cpu_seconds, st.worker_frames, engine.position_seconds
    t_start = time.perf_counter()
    paced(times, n_blocks)
    wall = time.perf_counter() - t_start
    assert engine.callback_errors == 0, engine.last_error
    cpu = st.worker_cpu_seconds - cpu0
    produced = st.worker_frames - frames0
    played = engine.position_seconds - pos0
    engine.unload()
    engine.process(out)
    budget_us = block / SR * 1e6
    stats = summary(times)
    return {
        "stems": n_stems,
        "block": block,
        "tempo_ratio": ratio,
        "key_shift": key,
        "seconds": seconds,
        "budget_us": round(budget_us, 1),
        "callback_us": stats,
        "callback_fraction_of_budget": {k: round(v / budget_us, 4) for k, v in stats.items()},
        "callback_us_unstretched_same_loop": summary(plain),
        "worker_cpu_per_output_s": round(cpu / (produced / SR), 3) if produced else None,
        "worker_us_per_128_frames": round(cpu / produced * 128 * 1e6, 1) if produced else None,
        "missing_frames": engine.missing_frames,
        "playhead_rate": round(played / (n_blocks * block / SR), 4),
        "wall_s": round(wall, 2),
        "loadavg": round(os.getloadavg()[0], 2),
    }


def bench_offline(tempo_ratio: float = 1.0, key_shift: int = 0) -> dict:
    """`render_mix` of 8 stems x 60 s, full strip, as a render runs it (helper thread on, block
    raised to audio.offline.OFFLINE_BLOCK), optionally with tempo/key (audio.stretch on every
    stem first; these noise stems have no silence, the stretcher's worst case). Wall time is the
    figure; CPU time (all threads) and the load average are reported because the VM is shared."""
    seconds = 60.0
    stems = make_stems(8, seconds, seed=1)
    gains, pans = np.linspace(-6, 0, 8), np.linspace(-0.5, 0.5, 8)
    strip, bus = full_strip(8)
    args = (gains, pans, False, False, -1.0, SR, 1024, strip, bus)
    render_mix(stems[:, :, :SR], *args, tempo_ratio=tempo_ratio, key_shift=key_shift)  # warm
    c0 = time.process_time()
    t0 = time.perf_counter()
    render_mix(stems, *args, tempo_ratio=tempo_ratio, key_shift=key_shift)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {
        "stems": 8,
        "seconds": seconds,
        "block": 1024,
        "full_strip": True,
        "tempo_ratio": tempo_ratio,
        "key_shift": key_shift,
        "elapsed_s": round(elapsed, 3),
        "x_realtime": round(seconds / elapsed, 1),
        "cpu_s": round(cpu, 3),
        "loadavg": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="also play on JACK dummy")
    parser.add_argument("--stems", type=int, nargs="*", default=STEM_COUNTS)
    parser.add_argument("--blocks", type=int, nargs="*", default=BLOCKS)
    parser.add_argument(
        "--tempo",
        type=float,
        nargs=2,
        metavar=("RATIO", "KEY"),
        help="only the live tempo/key cases (--stems, block 128, 10 s each), e.g. --tempo 1.25 2",
    )
    args = parser.parse_args()
    if args.tempo:
        ratio, key = args.tempo[0], int(args.tempo[1])
        stems_list = args.stems if args.stems != STEM_COUNTS else [4, 8, 16]
        cases = [bench_tempo(n, 128, 10.0, ratio, key) for n in stems_list]
        print(json.dumps({"machine": machine_info(), "sample_rate": SR, "tempo": cases}))
        return

    result: dict = {"machine": machine_info(), "sample_rate": SR, "live": []}
    for n_stems in args.stems:
        stems = make_stems(n_stems, TRACK_SECONDS, seed=n_stems)
        for block in args.blocks:
            result["live"].append(bench_case(stems, block))
        del stems
    result["offline"] = bench_offline()
    result["offline_tempo_key"] = bench_offline(1.25, 2)
    if args.soak:  # the app itself, UI animating (benchmarks/soak.py)
        from benchmarks.soak import run as soak

        result["soak"] = soak(args.soak, 128)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
