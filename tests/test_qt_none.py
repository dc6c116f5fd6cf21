"""Qt bindings must not drop references to None: on Python 3.11 None is an ordinary object, and
once its count reaches zero the interpreter aborts ("none_dealloc: deallocating None").
PySide6 6.12.0 decrements it on every void QPainter call (fillRect, setRenderHint...), which
killed the app within a minute or two of playing with animated meters (benchmarks/soak.py); the
dependency is pinned below it. This test paints the app's meters as the window does."""

from __future__ import annotations

import sys

import pytest

from ui.meter import LevelMeter

pytestmark = [pytest.mark.ui]


def test_painting_the_meters_keeps_none_alive(qtbot):
    meter = LevelMeter(2)
    qtbot.addWidget(meter)
    meter.resize(24, 200)
    meter.show()
    meter.push(-6.0, -9.0)
    meter.repaint()
    before = sys.getrefcount(None)
    for i in range(2000):
        meter.push(-6.0 - i % 20, -9.0)
        meter.repaint()
    # A leak of one reference per call would show as -2000 or far worse; allow small noise
    # from caches that legitimately hold or release a None elsewhere.
    assert sys.getrefcount(None) - before > -100
