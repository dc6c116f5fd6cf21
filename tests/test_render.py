"""Published renders are loudness-normalised, and `encore-platform render` (the operators' QA
re-render) produces exactly the published audio from the same document."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pyloudnorm
import soundfile as sf

from server.loudness import MAX_TRUE_PEAK_DBTP, TARGET_LUFS, true_peak
from tests.platform_helpers import as_demo, doc_for, stem_ids, wait_for_status
from tests.plugins.platform import REPO


def cli(platform, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "server.cli", *args, "--data-dir", str(platform.data_dir)]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_published_render_is_normalised_and_the_cli_re_renders_it(platform, tmp_path):
    fan = as_demo(platform.url, "qa")
    track = fan("GET", "/tracks/paper-lanterns").json()
    ids = stem_ids(track)
    doc = doc_for(
        track, stems={ids[0]: {"mute": True}, ids[2]: {"gain_db": 4.0}}, title="Loud keys"
    )
    resp = fan.submit(doc)
    assert resp.status_code == 201, resp.text
    info = wait_for_status(fan, resp.json()["id"])
    assert info["status"] == "published", info
    audio = fan("GET", f"/remixes/{info['id']}/audio").content
    published, rate = sf.read(io.BytesIO(audio), dtype="float64", always_2d=True)

    lufs = pyloudnorm.Meter(rate).integrated_loudness(published)
    peak_db = 20 * np.log10(true_peak(published))
    assert peak_db <= MAX_TRUE_PEAK_DBTP + 0.05
    # At the target, unless the true-peak cap made it quieter.
    assert abs(lufs - TARGET_LUFS) < 0.1 or (lufs < TARGET_LUFS and peak_db > -1.1), (lufs, peak_db)

    doc_file = tmp_path / "remix.json"
    doc_file.write_text(json.dumps(doc))
    out = tmp_path / "qa.flac"
    run = cli(platform, "render", str(doc_file), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "LUFS" in run.stdout
    again, again_rate = sf.read(out, dtype="float64", always_2d=True)
    assert again_rate == rate
    assert np.array_equal(again, published)


def test_cli_render_refuses_a_document_the_policy_refuses(platform, tmp_path):
    track = as_demo(platform.url, "qa")("GET", "/tracks/paper-lanterns").json()
    doc_file = tmp_path / "remix.json"
    doc_file.write_text(json.dumps(doc_for(track, tempo_ratio=1.9)))
    run = cli(platform, "render", str(doc_file), "--out", str(tmp_path / "x.flac"))
    assert run.returncode == 3
    assert "tempo ratio 1.9 is above this track's maximum 1.25" in run.stderr
    assert not (tmp_path / "x.flac").exists()
