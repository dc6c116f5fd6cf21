"""Streaming: time to first sound and to seekable for a cold 8-stem track, and the app's memory.

Run from the repository root:  .venv/bin/python benchmarks/streaming.py [--repeat N] [--json-only]
Prints ONE JSON line (progress goes to stderr unless --json-only). Starts a private JACK dummy
server and a local platform; everything lives in a temp dir that is removed at the end.
Figures are recorded in benchmarks/README.md.

The demo catalog has 2 tracks x 5 stems x ~75 s, far lighter than a real release, so the
benchmark builds its own catalog (same format and generator_version as `write_demo_catalog`, so
the platform takes it as a cache hit): 8 distinct demo stems tiled to 4 and to 5 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.cache import EncryptedCache
from app.client import PlatformClient
from app.embedded import PlatformProcess, start_platform
from app.streaming import FIRST_RECORDS, TrackStream
from app.studio import Studio
from audio import device as device_module
from audio.device import OutputStream
from audio.engine import Engine
from benchmarks.machine import machine_info
from core.sealed import CHUNK

REPO = Path(__file__).resolve().parents[1]
SR = 48000
N_STEMS = 8
FIRST_SOUND_TRACK = ("bench-4min", 240.0)
RSS_TRACK = ("bench-5min", 300.0)
# Start every stem at the first chorus of the demo music (24 s in), so the mix is loud from its
# first frame: any silence measured is the app's, not the song's intro.
START_OFFSET_S = 24.0
AUDIBLE = 1e-4  # output peak above this counts as sound (-80 dBFS)
BLOCKSIZE = 256  # what `encore` opens its output stream with by default
TIMEOUT_S = 30.0
FAN = ("fan", "encore-demo")
TARGETS = {
    "first_sound_ms": 250.0,
    "seekable_ms": 1500.0,
    # JACK's shared segment reported apart: it is jackd's, mapped into every JACK client
    # (benchmarks/memory.py). rss_mb with it is there to read, against the same figure.
    "rss_mb_without_jack_shm": 350.0,
    "rss_mb": 350.0,
}


def log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


# -- the catalog ---------------------------------------------------------------------------------


def demo_stems(work: Path) -> tuple[list[dict[str, Any]], int]:
    """The demo catalog's stems decoded to int16 (N, 2) arrays, and its generator_version.

    Reads the repo's `.cache/demo-catalog` when it is current (read only); otherwise composes the
    demo music into the temp dir, so nothing is ever written into the checkout. Imported here:
    the demo composer pulls in scipy.signal, which the app child must not carry."""
    from server.demo_music import GENERATOR_VERSION, write_demo_catalog

    source = REPO / ".cache" / "demo-catalog"
    try:
        catalog = json.loads((source / "catalog.json").read_text())
        current = all(t.get("generator_version") == GENERATOR_VERSION for t in catalog)
    except (OSError, ValueError):
        current = False
    if not current:
        source = work / "demo-catalog"
        catalog = write_demo_catalog(source)
    stems = []
    for track in catalog:
        for stem in track["stems"]:
            audio, _ = sf.read(source / stem["file"], dtype="int16", always_2d=True)
            stems.append({"name": stem["name"], "kind": stem["kind"], "audio": audio})
    return stems, GENERATOR_VERSION


def encode_stem(path: Path, audio: np.ndarray) -> dict[str, Any]:
    """16-bit FLAC through soundfile, exactly as `write_demo_catalog` encodes the demo stems."""
    sf.write(path, audio, SR, format="FLAC", subtype="PCM_16")
    data = path.read_bytes()
    return {
        "file": path.name,
        "frames": len(audio),
        "sample_rate": SR,
        "channels": int(audio.shape[1]),
        "duration": len(audio) / SR,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def tiled(audio: np.ndarray, frames: int, offset: int) -> np.ndarray:
    return audio[(np.arange(frames) + offset) % len(audio)]


def build_track(
    directory: Path,
    stems: list[dict[str, Any]],
    generator_version: int,
    track_id: str,
    seconds: float,
    rotate: int,
) -> dict[str, Any]:
    """One N_STEMS-stem track: distinct demo stems tiled to `seconds`.

    Every stem must be distinct audio: the stream caches stems by sha256, so two identical stems
    in one track would race on one cache file. `rotate` picks a different stem set per track."""
    frames, offset = int(seconds * SR), int(START_OFFSET_S * SR)
    chosen = [stems[(rotate + i) % len(stems)] for i in range(N_STEMS)]
    ids = [f"{track_id}-{i}-{stem['kind']}" for i, stem in enumerate(chosen)]
    mix = sum(tiled(stem["audio"], BLOCKSIZE, offset).astype(np.float64) for stem in chosen)
    if np.abs(mix).max() / 32768 < 0.01:
        raise RuntimeError(f"{track_id} starts quietly: first-sound would measure the music")

    def encode(i: int) -> dict[str, Any]:
        info = encode_stem(directory / f"{ids[i]}.flac", tiled(chosen[i]["audio"], frames, offset))
        return {
            "id": ids[i],
            "name": f"{chosen[i]['name']} {i + 1}",
            "kind": chosen[i]["kind"],
        } | info

    with ThreadPoolExecutor(max_workers=2) as pool:  # libsndfile encodes without the GIL
        entries = list(pool.map(encode, range(N_STEMS)))
    return {
        "id": track_id,
        "title": f"Benchmark {seconds / 60:g} min",
        "artist": "Mara Vale",
        "bpm": 120.0,
        "key": "A minor",
        "beats_per_bar": 4,
        "first_beat": 0.0,
        "sections": [{"name": "verse", "start": 0.0, "end": seconds}],
        "stems": entries,
        "generator_version": generator_version,
    }


def build_catalog(directory: Path, work: Path) -> list[dict[str, Any]]:
    """Write the benchmark catalog (FLACs + catalog.json) that the platform seeds from."""
    directory.mkdir(parents=True, exist_ok=True)
    stems, version = demo_stems(work)
    tracks = [
        build_track(directory, stems, version, *FIRST_SOUND_TRACK, rotate=0),
        build_track(directory, stems, version, *RSS_TRACK, rotate=2),
    ]
    (directory / "catalog.json").write_text(json.dumps(tracks, indent=2))
    return tracks


# -- first sound and seekable --------------------------------------------------------------------


class TimedOutput(OutputStream):
    """The app's output stream, noting when the first audible block reaches the device.

    The render thread timestamps (one float compare per block) instead of a poller from another
    thread, so the figure is not blurred by when a poller gets the GIL. The frames already
    queued in the ring ahead of the audible block play first: they are added, so the figure is
    what a listener hears, ring latency included."""

    def __init__(self, engine: Engine, device: int) -> None:
        super().__init__(engine, device=device, blocksize=BLOCKSIZE)
        self.first_sound: float | None = None

    def _report_underflows(self) -> None:  # NB: the render thread, after each block it rendered
        super()._report_underflows()
        if self.first_sound is None and self.engine.output_peak > AUDIBLE:
            h = self._header
            ahead = int(h[device_module._WRITE]) - int(h[device_module._READ]) - self.blocksize
            self.first_sound = time.perf_counter() + max(0, ahead) / self.engine.sample_rate


def open_like_the_ui(
    client: PlatformClient, track_id: str, cache_dir: Path, engine: Engine, t0: float
) -> tuple[Studio, TrackStream, dict[str, float]]:
    """What `MainWindow.open_track` -> `_on_detail` -> `_ensure_cache` -> `_start_stream` do,
    then the play button: detail, content key + cache, TrackStream, Studio.open, play.

    Returns the ms since `t0` at which each step finished, to show where the time goes."""
    steps: dict[str, float] = {}

    def mark(name: str) -> None:
        steps[name] = (time.perf_counter() - t0) * 1e3

    detail = client.track(track_id)
    mark("detail")
    cache = EncryptedCache(cache_dir, client.content_key())
    mark("content_key")
    rate = detail.stems[0].sample_rate
    stream = TrackStream(
        client, detail, cache, playhead=lambda: int(engine.position_seconds * rate)
    )
    mark("track_stream")
    studio = Studio(engine)
    studio.open(stream)
    mark("studio_open")
    engine.play()
    return studio, stream, steps


def wait_until(predicate, timeout: float = TIMEOUT_S, step: float = 0.001) -> bool:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            return False
        time.sleep(step)
    return True


def first_bytes_in(stream: TrackStream) -> bool:
    """Every stem has its header records, which every download fetches first."""
    return all(s.received >= min(FIRST_RECORDS * CHUNK, s.info.size) for s in stream.states)


def measure_open(client: PlatformClient, track_id: str, device: int, cache_dir: Path) -> dict:
    """One cold open (fresh cache dir, fresh engine on the JACK device): milestones in ms.

    Milestones other than first sound are polled every ~1 ms from this (the "UI") thread."""
    engine = Engine(SR)
    out = TimedOutput(engine, device)
    out.start()
    try:
        wait_until(lambda: engine.callback_count > 4)  # the device is running before t0
        t0 = time.perf_counter()
        studio, stream, steps = open_like_the_ui(client, track_id, cache_dir, engine, t0)
        marks: dict[str, float] = {}

        def milestones() -> bool:
            now = (time.perf_counter() - t0) * 1e3
            if "first_bytes" not in marks and first_bytes_in(stream):
                marks["first_bytes"] = now
            if "first_chunk" not in marks and any(stream.source.has(c) for c in range(4)):
                marks["first_chunk"] = now
            if "missing_1s" not in marks and engine.position_seconds >= 1.0:
                marks["missing_1s"] = engine.missing_frames
            if "seekable" not in marks and stream.seekable:
                marks["seekable"] = now
            return len(marks) == 4 and out.first_sound is not None

        done = wait_until(milestones)
        result = {
            "first_sound_ms": ((out.first_sound or np.nan) - t0) * 1e3,
            "seekable_ms": marks.get("seekable", np.nan),
            "missing_frames_1s": int(marks.get("missing_1s", -1)),
            "steps_ms": {
                **steps,
                "first_bytes": marks.get("first_bytes", np.nan),
                "first_chunk": marks.get("first_chunk", np.nan),
            },
            "bytes": sum(s.info.size for s in stream.states),
            "output_latency_ms": out.latency_seconds * 1e3,
            "underflows": engine.underflows,
            "callback_errors": engine.callback_errors,
            "complete": done,
        }
        studio.close()
        return result
    finally:
        out.stop()
        out.close()


def summarise(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 1), "max": round(max(values), 1)}


def bench_open(url: str, device: int, work: Path, repeat: int, quiet: bool) -> dict:
    """The first open in this process (numba kernel warm-up, first requests), then `repeat`
    cold-cache opens in the warm process: the figure a fan gets on every later click."""
    client = PlatformClient(url)
    client.login(*FAN)
    runs = []
    for i in range(repeat + 1):
        runs.append(measure_open(client, FIRST_SOUND_TRACK[0], device, work / f"cache-{i}"))
        shutil.rmtree(work / f"cache-{i}", ignore_errors=True)
        log(quiet, f"open {i}/{repeat}: {json.dumps(_r(runs[-1]))}")
    first, runs = runs[0], runs[1:]
    steps = {k: summarise([r["steps_ms"][k] for r in runs]) for k in runs[0]["steps_ms"]}
    return {
        "track": {"stems": N_STEMS, "seconds": FIRST_SOUND_TRACK[1], "bytes": first["bytes"]},
        "repeat": repeat,
        "first_sound_ms": summarise([r["first_sound_ms"] for r in runs]),
        "seekable_ms": summarise([r["seekable_ms"] for r in runs]),
        "missing_frames_1s": summarise([r["missing_frames_1s"] for r in runs]),
        "steps_ms": steps,
        "output_latency_ms": round(first["output_latency_ms"], 2),
        "underflows": sum(r["underflows"] for r in runs),
        "callback_errors": sum(r["callback_errors"] for r in runs),
        "all_complete": all(r["complete"] for r in runs),
        "first_open_in_process": _r({k: v for k, v in first.items() if k != "bytes"}),
        "runs": [_r({k: r[k] for k in ("first_sound_ms", "seekable_ms")}) for r in runs],
    }


def _r(value: Any) -> Any:
    """Round floats to 0.1 (ms, MB) throughout a result."""
    if isinstance(value, dict):
        return {k: _r(v) for k, v in value.items()}
    return round(value, 1) if isinstance(value, float) else value


# -- the real app's memory -----------------------------------------------------------------------


def bench_app_memory(url: str, device: int, work: Path) -> dict:
    """The real `encore` on this platform, in a fresh interpreter that imports what the app
    imports in the app's order (benchmarks/memory.py): its RSS with the 5-minute track playing,
    with and without JACK's shared segment."""
    from benchmarks.memory import TRACK, measure_app

    assert TRACK == RSS_TRACK
    return measure_app(url, device, work)


# -- main ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def local_platform(work: Path, catalog_dir: Path):
    platform_proc: PlatformProcess = start_platform(
        work / "platform", env={"ENCORE_DEMO_CACHE": str(catalog_dir)}
    )
    try:
        yield platform_proc
    finally:
        platform_proc.stop()


def verdicts(result: dict) -> dict[str, dict[str, Any]]:
    measured = {
        "first_sound_ms": result["open"]["first_sound_ms"]["max"],
        "seekable_ms": result["open"]["seekable_ms"]["max"],
        "rss_mb_without_jack_shm": result["app"]["rss_mb_without_jack_shm"],
        "rss_mb": result["app"]["rss_mb"],
    }
    return {
        k: {"target": TARGETS[k], "worst": v, "met": bool(v <= TARGETS[k])}
        for k, v in measured.items()
    }


def run(repeat: int, quiet: bool) -> dict:
    from tests.plugins.jack import jack_server

    work = Path(tempfile.mkdtemp(prefix="encore-bench-stream-"))
    try:
        t = time.perf_counter()
        build_catalog(work / "catalog", work)
        log(quiet, f"catalog built in {time.perf_counter() - t:.1f} s")
        with local_platform(work, work / "catalog") as plat, jack_server() as device:
            log(quiet, f"platform at {plat.url}, JACK device {device}")
            result = {"machine": machine_info(), "sample_rate": SR, "blocksize": BLOCKSIZE}
            result["open"] = bench_open(plat.url, device, work, repeat, quiet)
            result["app"] = bench_app_memory(plat.url, device, work)
        result["targets"] = verdicts(result)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="cold opens to time (default 5)")
    parser.add_argument("--json-only", action="store_true", help="no progress on stderr")
    args = parser.parse_args()
    print(json.dumps(run(args.repeat, args.json_only)), flush=True)


if __name__ == "__main__":
    main()
