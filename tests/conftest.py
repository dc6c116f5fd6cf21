"""Shared test set-up: real Qt offscreen, a real platform process, the JACK dummy device."""

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# As in the app: hand the GIL to the audio callback within 1 ms (the default is 5 ms).
sys.setswitchinterval(0.001)

pytest_plugins = ["tests.plugins.jack", "tests.plugins.platform", "tests.plugins.postgres"]
