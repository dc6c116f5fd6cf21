"""Choosing the stretcher: Rubber Band (R2, R3 standard, R3 short window) vs Signalsmith Stretch,
side by side on the demo stems and on tone and click probes.

Run from the repository root:  .venv/bin/python benchmarks/stretch.py [--seconds S] [--quick]
Prints ONE JSON line (progress goes to stderr). ~6 min on the 2-core VM (--quick: no R3
standard, 15 s of stems: ~2 min). Writes nothing into the checkout (the demo catalog is composed
into a temporary directory, removed at the end).

Candidates (each stem stretched on its own, one thread, so `x_rt_per_core` is the speed one core
gives; the adopted one is also timed the way the app runs it, every core):

* `rubberband_r2`: Rubber Band R2 (pylibrb, "faster" engine) in real-time mode, as the previous
  live preview ran it (PitchHighSpeed, fed in 512-frame pieces);
* `rubberband_r3`: R3 ("finer") offline, standard windows;
* `rubberband_r3_short`: R3 offline with WINDOW_SHORT, the previous published render;
* `signalsmith_wheel`: Signalsmith Stretch as python-stretch 0.3.1 calls it (whole buffer, its
  own transposition for the key);
* `signalsmith_stream` (ADOPTED, audio.stretch): the vendored same Signalsmith as one stream per
  stem in 1024-frame pieces, the key by exact resampling; what the live preview and the render
  both run.

Rubber Band needs pylibrb (GPL; no longer an Encore dependency, so `.venv/bin/pip install
pylibrb` to compare): without it its rows say so.

Figures, per candidate:

* `x_rt_per_core`: seconds of stems stretched per CPU second for all 8 demo stems (S stems x
  seconds / CPU s), at tempo 1.25 / key +2 and tempo 0.9 / key 0; `x_rt_8_stems` is that divided
  by 8: real time for an 8-stem track on one core;
* `pitch_cents_worst`: the worst error, in cents, of a steady tone's frequency (zero crossings)
  over 55-2500 Hz and five tempo/key pairs;
* `click_energy_kept` (median, worst): of each 1 ms click (a decaying burst, a click train every
  250 ms) the share of its energy (Hilbert envelope, +-50 ms) within +-1 ms of its peak; the
  input's own is 0.999; `pre_echo_db` (median, worst): the energy more than 2 ms before the
  peak, relative to the click's; `click_offset_ms_worst`: how far a click lands from where the
  tempo puts it;
* `demo_drums_onset_energy_kept`: the same share around the 40 strongest onsets of the demo
  drum stem, relative to the input's own (1.0 = as sharp as the original);
* `demo_level_db`: output level minus input level over the demo stems (nothing lost or doubled).

Targets (issue 12): one stretcher live and offline, >= 10x real time offline for 8 stems on this
machine, >= 0.7 of a click's energy kept, pitch within +-3 cents.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from audio import stretch  # noqa: E402
from benchmarks.machine import machine_info  # noqa: E402

SR = 48000
N_STEMS = 8
CASES = ((1.25, 2), (0.9, 0))
PITCH_CASES = ((1.25, 2), (1.0, 5), (0.8, -3), (1.1, -1), (0.75, 3))
PITCH_HZ = (55.0, 110.0, 220.0, 440.0, 1000.0, 2500.0)
TARGET_X_RT = 10.0
TARGET_CLICK = 0.7
TARGET_CENTS = 3.0

Stretcher = Callable[[np.ndarray, float, int], np.ndarray]
"""(2, N) float32 stem, tempo, key -> (2, round(N / tempo)) float32."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load() -> float:
    return round(os.getloadavg()[0], 2)


# -- the candidates -----------------------------------------------------------------------------


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((2, n), dtype=np.float32)
    m = min(n, y.shape[1])
    out[:, :m] = y[:, :m]
    return out


def rubberband(kind: str) -> Stretcher | None:
    try:
        import pylibrb
        from pylibrb import Option, RubberBandStretcher
    except ImportError:
        return None
    pylibrb.set_default_logging_level(0)

    def offline(x: np.ndarray, tempo: float, key: int) -> np.ndarray:
        opts = (
            Option.PROCESS_OFFLINE
            | Option.ENGINE_FINER
            | Option.THREADING_NEVER
            | Option.CHANNELS_TOGETHER
            | Option.PitchHighQuality
        )
        if kind == "r3_short":
            opts |= Option.WINDOW_SHORT
        n = x.shape[1]
        rb = RubberBandStretcher(SR, 2, int(opts), 1.0 / tempo, stretch.pitch_scale(key))
        rb.set_expected_input_duration(n)
        rb.set_max_process_size(16384)
        for i in range(0, n, 16384):
            rb.study(np.ascontiguousarray(x[:, i : i + 16384]), final=i + 16384 >= n)
        parts = []
        for i in range(0, n, 16384):
            rb.process(np.ascontiguousarray(x[:, i : i + 16384]), final=i + 16384 >= n)
            if rb.available() > 0:
                parts.append(rb.retrieve_available())
        while rb.available() > 0:
            parts.append(rb.retrieve_available())
        return _fit(np.concatenate(parts, axis=1), round(n / tempo))

    def realtime(x: np.ndarray, tempo: float, key: int) -> np.ndarray:
        opts = (
            Option.PROCESS_REALTIME
            | Option.ENGINE_FASTER
            | Option.THREADING_NEVER
            | Option.PitchHighSpeed
        )
        n = x.shape[1]
        rb = RubberBandStretcher(SR, 2, int(opts), 1.0 / tempo, stretch.pitch_scale(key))
        rb.set_max_process_size(512)
        pad = int(rb.get_preferred_start_pad())
        drop = int(rb.get_start_delay())
        src = np.concatenate([np.zeros((2, pad), np.float32), x, np.zeros((2, SR), np.float32)], 1)
        parts = []
        for i in range(0, src.shape[1] - 512, 512):
            rb.process(np.ascontiguousarray(src[:, i : i + 512]))
            if rb.available() > 0:
                parts.append(rb.retrieve_available())
        return _fit(np.concatenate(parts, axis=1)[:, drop:], round(n / tempo))

    return realtime if kind == "r2" else offline


def signalsmith_wheel() -> Stretcher | None:
    try:
        import python_stretch as ps
    except ImportError:
        return None

    def run(x: np.ndarray, tempo: float, key: int) -> np.ndarray:
        st = ps.Signalsmith.Stretch(1)
        st.preset(2, SR)
        st.setTransposeSemitones(key)
        st.timeFactor = tempo
        return _fit(st.process(np.ascontiguousarray(x)), round(x.shape[1] / tempo))

    return run


def signalsmith_stream(x: np.ndarray, tempo: float, key: int) -> np.ndarray:
    out = np.zeros((2, stretch.stretched_length(x.shape[1], tempo)), dtype=np.float32)
    stretch.stretch_stem(np.ascontiguousarray(x), SR, tempo, key, out)
    return out


# -- material -----------------------------------------------------------------------------------


def demo_stems(seconds: float) -> tuple[np.ndarray, list[str]]:
    """The demo catalog's first 8 stems (first `seconds`), composed into a temporary directory."""
    import soundfile as sf

    from server.demo_music import write_demo_catalog

    tmp = Path(tempfile.mkdtemp(prefix="encore-bench-stretch-"))
    try:
        catalog = write_demo_catalog(tmp)
        chosen = [s for t in catalog for s in t["stems"]][:N_STEMS]
        n = int(seconds * SR)
        out = np.zeros((len(chosen), 2, n), dtype=np.float32)
        for i, stem in enumerate(chosen):
            audio, rate = sf.read(str(tmp / stem["file"]), dtype="float32", always_2d=True)
            assert rate == SR
            chans = [audio[:, min(c, audio.shape[1] - 1)] for c in range(2)]
            out[i] = [np.resize(ch, n) for ch in chans]  # np.resize tiles a short stem
        return out, [str(s.get("kind") or s["name"]) for s in chosen]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tone(hz: float, seconds: float = 4.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    x = (0.25 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([x, x])


def click_train(seconds: float = 4.0, period: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros(round(seconds * SR), dtype=np.float32)
    pos = np.arange(SR // 2, x.size - SR // 2, round(period * SR))
    k = (np.exp(-np.arange(48) / 8.0) * np.cos(np.arange(48) * 0.9)).astype(np.float32)
    for p in pos:
        x[p : p + 48] += 0.8 * k
    return np.stack([x, 0.7 * x]), pos


# -- measures -----------------------------------------------------------------------------------


def zero_crossing_hz(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    i = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
    t = i + (-x[i]) / (x[i + 1] - x[i])
    return float((t.size - 1) / ((t[-1] - t[0]) / SR))


def envelope(x: np.ndarray) -> np.ndarray:
    from scipy.signal import hilbert

    return np.abs(hilbert(x.astype(np.float64))) ** 2


def concentration(env: np.ndarray, centre: int) -> tuple[float, float, int]:
    """(share within +-1 ms of the peak near `centre`, pre-echo dB, peak offset in frames)."""
    w = SR // 20
    e = env[max(0, centre - w) : centre + w]
    k = int(np.argmax(e))
    total = e.sum() + 1e-30
    share = float(e[max(0, k - 48) : k + 48].sum() / total)
    pre = float(10 * np.log10(e[: max(1, k - 96)].sum() / total + 1e-12))
    return share, pre, k - min(w, centre)


def pitch_error(fn: Stretcher) -> dict[str, Any]:
    worst, where = 0.0, ""
    for hz in PITCH_HZ:
        x = tone(hz)
        for tempo, key in PITCH_CASES:
            y = fn(x, tempo, key)[0]
            got = zero_crossing_hz(y[SR // 2 : -SR // 2])
            cents = 1200 * np.log2(got / (hz * 2 ** (key / 12)))
            if abs(cents) > abs(worst):
                worst, where = float(cents), f"{hz:g} Hz, tempo {tempo}, key {key:+d}"
    return {"pitch_cents_worst": round(worst, 2), "pitch_worst_at": where}


def clicks(fn: Stretcher) -> dict[str, Any]:
    x, pos = click_train()
    shares, pres, offs = [], [], []
    for tempo, key in CASES:
        env = envelope(fn(x, tempo, key)[0])
        for p in pos:
            share, pre, off = concentration(env, round(p / tempo))
            shares.append(share)
            pres.append(pre)
            offs.append(off)
    return {
        "click_energy_kept": [round(float(np.median(shares)), 3), round(min(shares), 3)],
        "pre_echo_db": [round(float(np.median(pres)), 1), round(max(pres), 1)],
        "click_offset_ms_worst": round(max(abs(o) for o in offs) * 1000 / SR, 2),
    }


def drum_onsets(drums: np.ndarray, fn: Stretcher) -> float:
    """Median over the 40 strongest onsets of the output's +-1 ms share / the input's."""
    env_in = envelope(drums[0])
    smooth = np.convolve(env_in, np.ones(480) / 480, mode="same")
    peaks = []
    order = np.argsort(smooth)[::-1]
    for i in order:
        if all(abs(int(i) - p) > SR // 10 for p in peaks) and SR // 10 < i < drums.shape[1] - SR:
            peaks.append(int(i))
        if len(peaks) == 40:
            break
    ratios = []
    for tempo, key in CASES:
        env_out = envelope(fn(drums, tempo, key)[0])
        for p in peaks:
            a = concentration(env_in, p)[0]
            b = concentration(env_out, round(p / tempo))[0]
            ratios.append(b / a)
    return round(float(np.median(ratios)), 3)


def speed(stems: np.ndarray, fn: Stretcher, seconds: float) -> dict[str, Any]:
    res: dict[str, Any] = {"loadavg_before": load()}
    level = []
    for tempo, key in CASES:
        cpu = time.process_time()
        outs = [fn(stems[s], tempo, key) for s in range(stems.shape[0])]
        cpu = time.process_time() - cpu
        x_rt = stems.shape[0] * seconds / cpu
        res[f"tempo {tempo} key {key:+d}"] = {
            "cpu_s": round(cpu, 2),
            "x_rt_per_core": round(x_rt, 1),
            "x_rt_8_stems": round(x_rt / N_STEMS, 2),
        }
        for s, y in enumerate(outs):
            e_in = float(np.mean(stems[s].astype(np.float64) ** 2))
            if e_in > 1e-8:
                level.append(10 * np.log10(np.mean(y.astype(np.float64) ** 2) / e_in))
    res["demo_level_db"] = [round(min(level), 2), round(max(level), 2)]
    res["loadavg_after"] = load()
    return res


def adopted_as_the_app_runs_it(stems: np.ndarray, seconds: float) -> dict[str, Any]:
    """audio.stretch.stretch_stems on every core, and a whole offline render with tempo/key."""
    from audio.offline import render_mix

    res: dict[str, Any] = {"workers": os.cpu_count(), "loadavg_before": load()}
    render_mix(stems[:, :, : SR // 2], 0.0, 0.0, False, False, 0.0, SR, tempo_ratio=1.25)  # warm
    for tempo, key in CASES:
        wall = time.perf_counter()
        stretch.stretch_stems(stems, SR, tempo, key)
        wall = time.perf_counter() - wall
        wall_r = time.perf_counter()
        render_mix(stems, 0.0, 0.0, False, False, 0.0, SR, tempo_ratio=tempo, key_shift=key)
        wall_r = time.perf_counter() - wall_r
        res[f"tempo {tempo} key {key:+d}"] = {
            "stretch_wall_s": round(wall, 2),
            "stretch_x_rt": round(seconds / wall, 1),
            "render_wall_s": round(wall_r, 2),
            "render_x_rt": round(seconds / wall_r, 1),
        }
    res["loadavg_after"] = load()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="seconds of each demo stem")
    ap.add_argument("--quick", action="store_true", help="15 s of stems, no R3 standard")
    args = ap.parse_args()
    seconds = 15.0 if args.quick else args.seconds

    log("composing the demo stems (temporary directory) ...")
    stems, kinds = demo_stems(seconds)
    drum = next((i for i, k in enumerate(kinds) if "drum" in k.lower()), 0)
    candidates: dict[str, Stretcher | None] = {
        "rubberband_r2": rubberband("r2"),
        "rubberband_r3": None if args.quick else rubberband("r3"),
        "rubberband_r3_short": rubberband("r3_short"),
        "signalsmith_wheel": signalsmith_wheel(),
        "signalsmith_stream": signalsmith_stream,
    }
    results: dict[str, Any] = {}
    for name, fn in candidates.items():
        if fn is None:
            results[name] = {"skipped": "not installed (or --quick)"}
            continue
        log(f"{name}: speed on the demo stems ...")
        row = speed(stems, fn, seconds)
        log(f"{name}: probes ...")
        row.update(pitch_error(fn))
        row.update(clicks(fn))
        row["demo_drums_onset_energy_kept"] = drum_onsets(stems[drum], fn)
        results[name] = row
    log("adopted, as the app runs it ...")
    app = adopted_as_the_app_runs_it(stems, seconds)
    adopted = results["signalsmith_stream"]
    worst_x = min(v["stretch_x_rt"] for k, v in app.items() if k.startswith("tempo"))
    print(
        json.dumps(
            {
                "benchmark": "stretch",
                "machine": machine_info(),
                "sample_rate": SR,
                "demo_stems": kinds,
                "seconds_per_stem": seconds,
                "results": results,
                "adopted": "signalsmith_stream (audio.stretch, live and offline)",
                "adopted_as_the_app_runs_it": app,
                "targets": {
                    "x_rt_8_stems_offline": [TARGET_X_RT, worst_x, worst_x >= TARGET_X_RT],
                    "click_energy_kept": [
                        TARGET_CLICK,
                        adopted["click_energy_kept"][1],
                        adopted["click_energy_kept"][1] >= TARGET_CLICK,
                    ],
                    "pitch_cents": [
                        TARGET_CENTS,
                        adopted["pitch_cents_worst"],
                        abs(adopted["pitch_cents_worst"]) <= TARGET_CENTS,
                    ],
                },
                "loadavg_end": load(),
            }
        )
    )


if __name__ == "__main__":
    main()
