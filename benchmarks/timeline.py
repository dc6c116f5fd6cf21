"""Timeline: the UI thread's CPU cost of drawing an 8-stem 5-minute track at 30 fps while playing,
and the time from the first byte of a cold stream to the whole waveform.

Run from the repository root:  .venv/bin/python benchmarks/timeline.py [--json-only]
Prints ONE JSON line (progress goes to stderr unless --json-only). Offscreen Qt; a private local
platform seeded with benchmarks/streaming.py's 5-minute 8-stem track, in a temp dir removed at
the end.

Drawing: a `TimelineView` of 1600×300 px (its size in a 1080p window) shows the track's real
peaks; each frame moves the playhead by 1/30 s, updates the lanes' brightness and loop and lets
Qt paint what changed, 30 times a second for PLAY_SECONDS. The figure is `time.thread_time()` of
the UI thread over those frames (the decode worker's peak work is on its own thread and is
reported separately, per chunk), as a share of one core. Two views: the whole track (the
playhead moves ~5 px a second) and zoomed to 20 s (it moves 2.7 px a frame and turns the page
every 20 s, rebuilding the cached lanes).

Waveform: a `TrackStream` opened cold on the platform, the playhead left at 0, as the studio
opens a track; from the first stem byte received until every stem's peaks are complete (the
decode worker decodes the rest of each stem when nothing is urgent).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PySide6.QtWidgets import QApplication

from app.cache import EncryptedCache
from app.client import PlatformClient
from app.embedded import start_platform
from app.peaks import PeakCache
from app.streaming import TrackStream
from benchmarks.machine import machine_info
from benchmarks.streaming import FAN, RSS_TRACK, SR, build_track, demo_stems
from ui.main import apply_theme
from ui.mixer import KIND_COLORS
from ui.timeline import Block, Structure, TimelineView

FPS = 30
PLAY_SECONDS = 6.0
SIZE = (1600, 300)
ZOOM_SPAN = 20.0
TARGET_CPU_PERCENT = 5.0


def log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def open_cold(url: str, track_id: str, cache_dir: Path) -> tuple[TrackStream, dict[str, float]]:
    """A cold stream of the track; milestones in ms from the stream's start."""
    client = PlatformClient(url)
    client.login(*FAN)
    detail = client.track(track_id)
    cache = EncryptedCache(cache_dir, client.content_key())
    stream = TrackStream(client, detail, cache, lambda: 0)
    t0 = time.perf_counter()
    stream.start()
    marks: dict[str, float] = {}
    deadline = t0 + 120.0
    while time.perf_counter() < deadline:
        now = (time.perf_counter() - t0) * 1e3
        if "first_byte_ms" not in marks and any(s.received > 0 for s in stream.states):
            marks["first_byte_ms"] = now
        if "all_bytes_ms" not in marks and stream.seekable:
            marks["all_bytes_ms"] = now
        if stream.peaks.complete():
            marks["whole_waveform_ms"] = now
            break
        time.sleep(0.002)
    return stream, marks


def peak_add_us(peaks: PeakCache) -> float:
    """What the decode worker pays per chunk and stem for the peaks (µs, median)."""
    audio = np.random.default_rng(0).standard_normal((2, peaks.chunk_frames)).astype(np.float32)
    probe = PeakCache(peaks.n_stems, peaks.n_frames)
    times = []
    for chunk in range(min(probe.n_chunks, 200)):
        t = time.perf_counter()
        probe.add(0, chunk, audio)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e6)


def draw_cost(app: QApplication, stream: TrackStream, zoom_span: float | None) -> dict:
    """UI thread CPU over PLAY_SECONDS of frames at FPS, the playhead moving in real time."""
    view = TimelineView()
    view.resize(*SIZE)
    duration = stream.n_frames / SR
    view.set_track(
        stream.peaks,
        [s.name for s in stream.stems],
        [KIND_COLORS.get(s.kind.value, KIND_COLORS["other"]) for s in stream.stems],
    )
    quarter = duration / 4
    view.set_structure(
        Structure(
            duration=duration,
            rate=SR,
            segments=[(0, stream.n_frames)],
            blocks=[Block(f"part {i + 1}", i * quarter, (i + 1) * quarter) for i in range(4)],
        )
    )
    view.set_automation([(1, "gain_db", [(0.0, -6.0), (60.0, -18.0), (120.0, 0.0)])])
    view.show()
    if zoom_span is not None:
        view.zoom(duration / zoom_span, 0.0)
    position = 30.0
    view.set_position(position, True)
    app.processEvents()
    view.repaint()  # the cached lanes are built once here: a one-off, not a per-frame cost
    levels = [1.0] * len(stream.stems)
    frames = int(PLAY_SECONDS * FPS)
    cpu0, wall0, paints0, paint_cpu0 = (
        time.thread_time(),
        time.perf_counter(),
        view.paints,
        view.paint_seconds,
    )
    for i in range(frames):
        position += 1 / FPS
        levels[2] = 0.5 + 0.5 * ((i // 15) % 2)  # a fader moving now and then
        view.set_loop((40.0, 48.0))
        view.set_levels(levels)
        view.poll()
        view.set_position(position, True)
        app.processEvents()
        # Sleep to the next frame: the figure is the CPU a real 30 Hz tick spends.
        next_at = wall0 + (i + 1) / FPS
        time.sleep(max(0.0, next_at - time.perf_counter()))
    cpu = time.thread_time() - cpu0
    wall = time.perf_counter() - wall0
    out = {
        "view_seconds": round(view.span, 1),
        "cpu_percent_of_core": round(100 * cpu / wall, 2),
        "cpu_ms_per_frame": round(1e3 * cpu / frames, 3),
        "paints": view.paints - paints0,
        "paint_ms_per_frame": round(1e3 * (view.paint_seconds - paint_cpu0) / frames, 3),
    }
    view.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    quiet = args.json_only
    app = QApplication(sys.argv[:1])
    apply_theme(app)
    with tempfile.TemporaryDirectory(prefix="encore-bench-timeline-") as tmp:
        work = Path(tmp)
        log(quiet, "building the 5-minute 8-stem track…")
        catalog_dir = work / "catalog"
        catalog_dir.mkdir()
        stems, version = demo_stems(work)
        track = build_track(catalog_dir, stems, version, *RSS_TRACK, rotate=2)
        (catalog_dir / "catalog.json").write_text(json.dumps([track], indent=2))
        log(quiet, "starting the platform…")
        platform = start_platform(work / "platform", env={"ENCORE_DEMO_CACHE": str(catalog_dir)})
        try:
            log(quiet, "streaming cold until the whole waveform is in…")
            stream, marks = open_cold(platform.url, track["id"], work / "cache")
            try:
                log(quiet, "drawing while playing…")
                whole = draw_cost(app, stream, None)
                zoomed = draw_cost(app, stream, ZOOM_SPAN)
                add_us = peak_add_us(stream.peaks)
            finally:
                stream.stop()
        finally:
            platform.stop()
    first = marks.get("first_byte_ms")
    done = marks.get("whole_waveform_ms")
    result = {
        "benchmark": "timeline",
        "stems": len(track["stems"]),
        "track_seconds": RSS_TRACK[1],
        "fps": FPS,
        "size": list(SIZE),
        "draw_whole_track": whole,
        "draw_zoomed": zoomed,
        "target_cpu_percent": TARGET_CPU_PERCENT,
        "first_byte_to_whole_waveform_ms": None
        if first is None or done is None
        else round(done - first, 1),
        "open_to_all_bytes_ms": marks.get("all_bytes_ms") and round(marks["all_bytes_ms"], 1),
        "peak_add_us_per_chunk_and_stem": round(add_us, 1),
        "loadavg": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "machine": machine_info(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
