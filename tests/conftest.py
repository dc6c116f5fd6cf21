"""Shared test set-up: real Qt offscreen, a real platform process, the JACK dummy device."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Every kernel call checked against the signatures the ahead-of-time build exports (its
# functions take what they are given unchecked): audio/compiled.py.
os.environ.setdefault("ENCORE_KERNELS_STRICT", "1")

pytest_plugins = [
    "tests.plugins.jack",
    "tests.plugins.platform",
    "tests.plugins.postgres",
    "tests.plugins.qt",
]
