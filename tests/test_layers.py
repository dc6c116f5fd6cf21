"""The layers and the types, checked by the test command with the tools themselves.

import-linter (`[tool.importlinter]` in pyproject.toml): the engine (`audio`) imports nothing of
ours, the shared core (`core`) neither studio nor platform, the studio without widgets (`app`) no
Qt, the platform (`server`) only `core`, `audio` and itself, and the widgets (`ui`) reach the
engine only through `app` (app/playback.py). mypy with the pydantic plugin (`[tool.mypy]`):
no error in audio, core, app and server. Each test fails with what the tool printed, which names
the file, the line and the rule.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the environment the tests run in (.venv/bin)


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{tool} is not installed beside {sys.executable}: run `make bootstrap`")
    return subprocess.run(
        [str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=280, check=False
    )


def test_imports_keep_to_the_layers() -> None:
    result = _run("lint-imports", "--no-cache")
    assert result.returncode == 0, (
        "An import crosses a layer (pyproject.toml, [tool.importlinter], says which may "
        "import which; move the code, or reach it through app/ or core/):\n"
        + result.stdout
        + result.stderr
    )


def test_types_check() -> None:
    # Incremental: its cache is .mypy_cache/ (ignored by git), so a second run takes seconds.
    result = _run("mypy")
    assert result.returncode == 0, (
        "mypy found type errors (pyproject.toml, [tool.mypy]); fix the code, not the check:\n"
        + result.stdout
        + result.stderr
    )
