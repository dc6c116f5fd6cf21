"""Audio settings, device choice, and device loss/recovery (audio/output.py, ui/devices.py).

Device loss is simulated with a fake stream (`FakeStream`): a device that vanishes cannot be made
in this process — once a JACK server goes away, PortAudio's JACK host API blocks forever in every
call on its stream and in Pa_Terminate (measured; see audio/output.py). Everything else (engine,
settings file, dialog, JACK device) is real.
"""

from __future__ import annotations

import json
import threading

import pytest

from app.drafts import DraftStore
from app.settings import Settings, load_settings, save_settings
from audio import output as output_module
from audio.engine import Engine
from audio.output import LOST_MESSAGE, WEDGED_MESSAGE, AudioOutput, OutputState
from ui.devices import AudioSettingsDialog
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner

# -- settings file -----------------------------------------------------------------------------


def test_settings_round_trip_atomically(tmp_path):
    path = tmp_path / "cfg" / "settings.json"
    assert load_settings(path) == Settings()  # missing file: defaults
    save_settings(Settings(output_device="system", blocksize=128, cache_limit_mb=512), path)
    assert load_settings(path) == Settings(
        output_device="system", blocksize=128, cache_limit_mb=512
    )
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temporary left
    assert json.loads(path.read_text())["blocksize"] == 128


@pytest.mark.parametrize("text", ["{not json", '{"blocksize": 100}', '["a list"]'])
def test_bad_settings_file_gives_defaults(tmp_path, text):
    path = tmp_path / "settings.json"
    path.write_text(text)
    assert load_settings(path) == Settings()


# -- loss and recovery (simulated device) ------------------------------------------------------


class FakeStream:
    """Stands in for audio.device.OutputStream (see the module docstring for why)."""

    def __init__(self, engine, device, blocksize, *, hang_on_close=False):
        self.engine, self.device, self.blocksize = engine, device, blocksize
        self.active = False
        self.closed = False
        self.latency_seconds = blocksize / 48000 * 2
        self._hang = threading.Event() if hang_on_close else None

    def start(self):
        self.active = True

    def close(self):
        if self._hang is not None:
            self._hang.wait()  # PortAudio with its JACK server gone: never returns
        self.closed, self.active = True, False


class Rig:
    def __init__(self, hang_on_close=False):
        self.engine = Engine()
        self.devices = [{"index": 3, "name": "system", "hostapi": "JACK Audio Connection Kit"}]
        self.streams: list[FakeStream] = []
        self.rescans = 0
        self.now = 100.0

        def opener(engine, device, blocksize):
            stream = FakeStream(engine, device, blocksize, hang_on_close=hang_on_close)
            self.streams.append(stream)
            return stream

        def rescan():
            self.rescans += 1

        self.output = AudioOutput(
            self.engine,
            "system",
            256,
            opener=opener,
            devices=lambda: list(self.devices),
            default_device=lambda: 3 if self.devices else None,
            rescan=rescan,
            clock=lambda: self.now,
        )

    def run(self, seconds: float, callbacks: bool = True) -> bool:
        """Time passes (the callback runs, or not); then the window's once-a-second poll."""
        self.now += seconds
        if callbacks:
            self.engine.callback_count += int(seconds * 48000 / 256)
        return self.output.poll()


def test_device_vanishes_and_comes_back():
    rig = Rig()
    assert rig.output.open("system", 256) is None
    assert rig.output.state == OutputState.RUNNING and rig.streams[0].device == 3
    assert rig.output.latency_ms == pytest.approx(10.667, abs=0.01)
    rig.engine.play()
    assert rig.run(1.0) is False  # healthy: nothing to report

    # Unplugged: PortAudio ends the stream and the device leaves the list.
    rig.streams[0].active = False
    rig.devices.clear()
    assert rig.run(1.0, callbacks=False) is True
    assert rig.output.state == OutputState.LOST and rig.output.message == LOST_MESSAGE
    assert rig.streams[0].closed and not rig.engine.playing
    assert rig.output.latency_ms is None
    assert rig.run(1.0, callbacks=False) is False  # still gone: keeps looking, quietly
    assert rig.rescans == 1

    # Back: reopened on its (new) index at the same block size, and playing on where it stopped.
    rig.devices.append({"index": 5, "name": "system", "hostapi": "JACK Audio Connection Kit"})
    assert rig.run(1.0, callbacks=False) is True
    assert rig.output.state == OutputState.RUNNING and rig.output.message is None
    assert (rig.streams[-1].device, rig.streams[-1].blocksize) == (5, 256)
    assert rig.engine.playing


def test_stalled_callbacks_count_as_loss():
    rig = Rig()
    rig.output.open("system", 256)
    assert rig.run(0.5) is False
    assert rig.run(0.6, callbacks=False) is False  # 0.6 s without a callback: a hiccup
    assert rig.run(0.6, callbacks=False) is True  # 1.2 s: the device is gone
    assert rig.output.state == OutputState.LOST


def test_a_driver_that_never_lets_go_says_restart(monkeypatch):
    monkeypatch.setattr(output_module, "RELEASE_TIMEOUT_S", 0.2)
    rig = Rig(hang_on_close=True)
    rig.output.open("system", 256)
    rig.streams[0].active = False
    assert rig.run(1.0, callbacks=False) is True
    assert rig.output.state == OutputState.WEDGED and rig.output.message == WEDGED_MESSAGE
    assert rig.output.wedged
    assert rig.run(1.0) is False and rig.rescans == 0  # never touches PortAudio again
    assert rig.output.open("system", 256) == WEDGED_MESSAGE
    rig.streams[0]._hang.set()


def test_missing_saved_device_says_what_to_do():
    rig = Rig()
    rig.devices.clear()
    message = rig.output.open("USB Interface", 128)
    assert rig.output.state == OutputState.NO_DEVICE
    assert message.startswith("The audio device “USB Interface” is not connected.")
    assert "pick another in Audio settings" in message
    rig.devices.append({"index": 7, "name": "USB Interface", "hostapi": "ALSA"})
    assert rig.run(1.0) is True and rig.output.state == OutputState.RUNNING
    assert (rig.streams[-1].device, rig.streams[-1].blocksize) == (7, 128)


@pytest.mark.ui
def test_window_banner_follows_the_device(qtbot, platform, tmp_path):
    from app.client import PlatformClient

    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    rig = Rig()
    rig.output.open("system", 256)
    tasks = TaskRunner()
    window = MainWindow(
        client, rig.engine, tasks, DraftStore(tmp_path / "d"), tmp_path / "c", output=rig.output
    )
    qtbot.addWidget(window)
    window._device_timer.stop()  # the test drives the once-a-second poll itself
    rig.streams[0].active = False
    rig.now += 1.0
    window._watch_device()
    assert not window.banner.isHidden()
    assert window.banner.text() == (
        "The audio device disappeared. Encore will reconnect when it comes back."
    )
    rig.now += 1.0
    window._watch_device()
    assert window.banner.isHidden()
    tasks.wait(5000)


# -- the dialog on the real JACK device --------------------------------------------------------


@pytest.mark.ui
@pytest.mark.device
def test_settings_dialog_reopens_on_the_real_device(qtbot, jackd, tmp_path):
    engine = Engine()
    output = AudioOutput(engine)
    assert output.open(None, 256) is None, output.message
    try:
        path = tmp_path / "settings.json"
        dialog = AudioSettingsDialog(output, Settings(), settings_path=path)
        qtbot.addWidget(dialog)
        names = [dialog.device.itemData(i) for i in range(dialog.device.count())]
        assert names[0] is None and "system" in names  # system default, then JACK's "system"
        qtbot.waitUntil(lambda: engine.callback_count > 20, timeout=3000)
        assert dialog.latency.text().endswith(" ms")
        first_latency = float(dialog.latency.text().split()[0])
        assert 0.0 < first_latency < 100.0

        dialog.device.setCurrentIndex(names.index("system"))
        dialog.blocksize.setCurrentIndex(dialog.blocksize.findData(1024))
        dialog.cache_limit.setValue(512)
        dialog.apply_button.click()
        assert output.state == OutputState.RUNNING and output.blocksize == 1024
        assert output.device_name == "system"
        count = engine.callback_count
        qtbot.waitUntil(lambda: engine.callback_count > count + 5, timeout=3000)
        qtbot.wait(REFRESH_WAIT_MS)
        # JACK's latency is its server period (128 frames = 2.7 ms), whatever the block size:
        # the dialog shows what PortAudio reports for the open stream.
        assert dialog.latency.text() == f"{output.latency_ms:.1f} ms"
        assert output.stream._stream.blocksize == 1024
        assert dialog.underflows.text() == str(engine.underflows)
        assert dialog.status.text() == "Playing on system"
        assert load_settings(path) == Settings(
            output_device="system", blocksize=1024, cache_limit_mb=512
        )
        dialog.close_button.click()
    finally:
        output.close()


REFRESH_WAIT_MS = 300
