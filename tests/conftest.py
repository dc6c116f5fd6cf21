"""Shared test set-up: real Qt offscreen, a real platform process, the JACK dummy device."""

import os

from audio.output import keep_the_callback_on_time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
keep_the_callback_on_time()  # as the app does once a stream runs (tests open streams directly)

pytest_plugins = ["tests.plugins.jack", "tests.plugins.platform", "tests.plugins.postgres"]
