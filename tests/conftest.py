"""Shared test set-up: real Qt offscreen, a real platform process, the JACK dummy device."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = [
    "tests.plugins.jack",
    "tests.plugins.platform",
    "tests.plugins.postgres",
    "tests.plugins.qt",
]
