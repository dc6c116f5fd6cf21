"""Audio settings, device choice, and device loss/recovery (audio/output.py, ui/devices.py).

Device loss on JACK is real: `test_jack_server_vanishes_and_comes_back` stops the JACK server
under a playing stream and starts it again (PortAudio's JACK host API then blocks in every call on
that stream and in Pa_Terminate; audio/device.py has the measurements and the way out).

A hardware device that is unplugged and plugged back (it leaves PortAudio's device list and comes
back, maybe under another index) cannot exist on this machine, which has no sound card: those
tests replace the device layer (the stream and the device list, `Rig`) and say so. Everything
else (engine, settings file, dialog, JACK device) is real.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest

from app.drafts import DraftStore
from app.settings import Settings, load_settings, save_settings
from audio import output as output_module
from audio.device import SWITCH_INTERVAL_S
from audio.engine import Engine
from audio.output import (
    LOST_MESSAGE,
    WEDGED_MESSAGE,
    AudioOutput,
    OutputState,
)
from tests.plugins.jack import JackProcess, rescan_jack_output, server_name
from tests.test_device import synthetic_stems
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


# -- loss and recovery of a hardware device (simulated: there is none here) ----------------------


class FakeStream:
    """Stands in for a started audio.device.OutputStream on a hardware device that can be
    unplugged (see the module docstring for why)."""

    def __init__(self, engine, device, blocksize, *, hang_on_close=False):
        self.engine, self.device, self.blocksize = engine, device, blocksize
        self.active = True
        self.server_gone = False  # no JACK server under a hardware device
        self.closed = False
        self.latency_seconds = blocksize / 48000 * 2
        self._hang = threading.Event() if hang_on_close else None

    def close(self):
        if self._hang is not None:
            self._hang.wait()  # PortAudio with its JACK server gone: never returns
        self.closed, self.active = True, False


class Rig:
    """An AudioOutput on a simulated hardware device: its device list, streams, PortAudio
    rescans and replacements, and the clock are the test's; the engine is real."""

    def __init__(self, hang_on_close=False, can_replace=True):
        self.engine = Engine()
        self.devices = [{"index": 3, "name": "USB Interface", "hostapi": "ALSA"}]
        self.streams: list[FakeStream] = []
        self.rescans = 0
        self.replaced: list[FakeStream] = []
        self.now = 100.0

        def opener(engine, device, blocksize):
            stream = FakeStream(engine, device, blocksize, hang_on_close=hang_on_close)
            self.streams.append(stream)
            return stream

        def rescan():
            self.rescans += 1

        def replace(stream):
            self.replaced.append(stream)
            return can_replace

        self.output = AudioOutput(
            self.engine,
            "USB Interface",
            256,
            opener=opener,
            devices=lambda: list(self.devices),
            default_device=lambda: 3 if self.devices else None,
            rescan=rescan,
            replace=replace,
            clock=lambda: self.now,
        )

    def run(self, seconds: float, callbacks: bool = True) -> bool:
        """Time passes (the callback runs, or not); then the window's once-a-second poll."""
        self.now += seconds
        if callbacks:
            self.engine.callback_count += int(seconds * 48000 / 256)
        return self.output.poll()


def test_device_vanishes_and_comes_back():
    """Simulated USB device (none here): unplugged while playing, then plugged back."""
    rig = Rig()
    assert rig.output.open("USB Interface", 256) is None
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
    assert rig.replaced == []  # it closed: PortAudio stays as it is
    assert rig.output.latency_ms is None
    assert rig.run(1.0, callbacks=False) is False  # still gone: keeps looking, quietly
    assert rig.rescans == 1

    # Back: reopened on its (new) index at the same block size, and playing on where it stopped.
    rig.devices.append({"index": 5, "name": "USB Interface", "hostapi": "ALSA"})
    assert rig.run(1.0, callbacks=False) is True
    assert rig.output.state == OutputState.RUNNING and rig.output.message is None
    assert (rig.streams[-1].device, rig.streams[-1].blocksize) == (5, 256)
    assert rig.engine.playing


def test_stalled_callbacks_count_as_loss():
    """Simulated device (none here) whose callbacks stop while PortAudio calls it active."""
    rig = Rig()
    rig.output.open("USB Interface", 256)
    assert rig.run(0.5) is False
    assert rig.run(0.6, callbacks=False) is False  # 0.6 s without a callback: a hiccup
    assert rig.run(0.6, callbacks=False) is True  # 1.2 s: the device is gone
    assert rig.output.state == OutputState.LOST


def test_a_driver_that_never_lets_go_gets_a_fresh_portaudio(monkeypatch):
    """Simulated device (none here) whose driver never returns from closing the stream: the
    PortAudio instance is replaced, and the device is found again when it is back."""
    monkeypatch.setattr(output_module, "RELEASE_TIMEOUT_S", 0.2)
    rig = Rig(hang_on_close=True)
    rig.output.open("USB Interface", 256)
    rig.engine.play()
    rig.streams[0].active = False
    rig.devices.clear()
    assert rig.run(1.0, callbacks=False) is True
    assert rig.output.state == OutputState.LOST and rig.output.message == LOST_MESSAGE
    assert rig.replaced == [rig.streams[0]] and rig.output.recoveries == 1
    assert not rig.output.wedged
    rig.devices.append({"index": 3, "name": "USB Interface", "hostapi": "ALSA"})
    assert rig.run(1.0) is True and rig.output.state == OutputState.RUNNING
    assert len(rig.streams) == 2 and rig.engine.playing
    rig.streams[0]._hang.set()


def test_no_fresh_portaudio_says_restart(monkeypatch):
    """Simulated device (none here) whose driver never lets go, where no fresh PortAudio can be
    loaded: the message says to restart, and PortAudio is never called again."""
    monkeypatch.setattr(output_module, "RELEASE_TIMEOUT_S", 0.2)
    rig = Rig(hang_on_close=True, can_replace=False)
    rig.output.open("USB Interface", 256)
    rig.streams[0].active = False
    assert rig.run(1.0, callbacks=False) is True
    assert rig.output.state == OutputState.WEDGED and rig.output.message == WEDGED_MESSAGE
    assert rig.output.wedged
    assert rig.run(1.0) is False and rig.rescans == 0  # never touches PortAudio again
    assert rig.output.open("USB Interface", 256) == WEDGED_MESSAGE
    rig.streams[0]._hang.set()


def test_missing_saved_device_says_what_to_do():
    """Simulated device (none here) that is not plugged in at start."""
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
    rig = Rig()  # simulated device (none here)
    rig.output.open("USB Interface", 256)
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
    assert window.banner.text() == LOST_MESSAGE
    assert "paused" in LOST_MESSAGE and "Audio settings" in LOST_MESSAGE
    rig.now += 1.0
    window._watch_device()
    assert window.banner.isHidden()
    tasks.wait(5000)


@pytest.mark.ui
def test_no_device_stays_said_when_a_track_opens(qtbot, platform, tmp_path):
    """No device at start (simulated: this machine's JACK server would be found): opening a
    track cleared the banner, so Play then ran silent without a word."""
    from app.client import PlatformClient

    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    rig = Rig()
    rig.devices.clear()
    message = rig.output.open(None, 256)
    assert rig.output.state == OutputState.NO_DEVICE
    tasks = TaskRunner()
    window = MainWindow(
        client, rig.engine, tasks, DraftStore(tmp_path / "d"), tmp_path / "c", output=rig.output
    )
    qtbot.addWidget(window)
    window._device_timer.stop()
    assert window.banner.text() == message and not window.banner.isHidden()
    qtbot.waitUntil(lambda: window.catalog.list.count() > 0, timeout=10000)
    window.open_track(window.catalog.list.item(0).data(256))
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=30000)
    assert window.banner.text() == message and not window.banner.isHidden()
    window.close()
    tasks.wait(10000)


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
        # The dialog shows the open stream's latency: what PortAudio reports (JACK: its server
        # period, whatever the block size) plus the stream's ring (audio/device.py).
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


# -- loss and recovery on the real JACK device -------------------------------------------------


def wait_for(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.mark.device
def test_jack_server_vanishes_and_comes_back():
    """No mocks: a JACK server of this test's own stops under a playing stream and starts again
    under the same name. Sound stops cleanly, the playhead stays, and the next polls reopen on
    the new server and play on, in this process."""
    try:
        server = JackProcess(server_name("loss"), period=256)
        server.__enter__()
    except RuntimeError as exc:
        pytest.skip(f"JACK dummy server unavailable: {exc}")
    engine = Engine(48000, max_block=1024)
    engine.load(synthetic_stems(seconds=30.0), ["drums", "bass", "keys", "vocals"])
    output = AudioOutput(engine)
    try:
        assert wait_for(lambda: rescan_jack_output() is not None, 5.0, 0.2)
        assert output.open(None, 256) is None, output.message
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)
        engine.play()
        assert wait_for(lambda: engine.position_seconds > 0.3, 5.0)

        server.vanish()
        assert wait_for(lambda: output.poll() or output.state != OutputState.RUNNING, 5.0, 0.2)
        assert output.state == OutputState.LOST and output.message == LOST_MESSAGE
        assert output.recoveries == 1  # the stuck PortAudio was left for a fresh one
        assert not engine.playing and output.latency_ms is None
        stopped_at = engine.position_seconds
        assert stopped_at > 0.3
        for _ in range(3):  # still gone: it keeps looking, quietly
            time.sleep(0.2)
            assert output.poll() is False and output.state == OutputState.LOST
        assert engine.position_seconds == stopped_at

        server.start()
        assert wait_for(lambda: output.poll() or output.state == OutputState.RUNNING, 10.0, 0.3)
        assert output.state == OutputState.RUNNING and output.message is None, output.message
        assert output.device_name == "system" and not output.wedged
        assert engine.playing
        count = engine.callback_count
        assert wait_for(lambda: engine.callback_count > count + 50, 30.0)  # ~190 per second
        assert engine.position_seconds > stopped_at  # on from where it stopped
        assert engine.position_seconds < stopped_at + 5.0
        assert output.poll() is False
    finally:
        output.close()
        server.__exit__(None, None, None)
