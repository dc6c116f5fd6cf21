"""MIDI learn (issue 11 item 5).

Mapping logic (app/midi.py) with real mido messages fed in: 7-bit and 14-bit CCs, the three
relative-encoder codings and their detection, notes and CC buttons, pitch bend on a fader, soft
takeover, batching, and the JSON file round trip.

The studio (ui/midilearn.py) with real widgets offscreen on the demo platform: Learn MIDI from a
fader's context menu, then messages move the fader, the document and the engine's gain, as one
undo step per gesture; mute, play and a relative knob; mappings restored in a new window.

Real ports: this machine has no ALSA sequencer (/dev/snd/seq is missing: no snd-seq kernel
module in the VM), so `mido.open_output(virtual=True)` on ALSA cannot run here; the ALSA test
skips saying so. JACK MIDI needs no kernel module: with the JACK dummy server running, a real
virtual JACK port (rtmidi's JACK API, the same code path as ALSA above mido) sends to the
studio through rtmidi's callback thread.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import mido
import numpy as np
import pytest
import rtmidi
from PySide6.QtCore import Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from app import midiports
from app.client import PlatformClient
from app.drafts import DraftStore
from app.midi import (
    LEARN_MESSAGES,
    MODE_LABELS,
    Binding,
    Learner,
    MidiMap,
    MidiStore,
    Mode,
    Move,
    Source,
    TargetKind,
    decode_relative,
    detect_mode,
    device_key,
)
from app.midiports import MidiPorts, MidiSystem
from audio.engine import Engine
from tests.plugins.jack import JackProcess, server_name
from tests.test_ui_legibility import assert_none, legibility_problems, menu_problems
from ui.main import load_theme
from ui.mainwindow import MainWindow
from ui.mixer import StemStrip, slider_to_db
from ui.tasks import TaskRunner
from ui.undo import WHEEL_BURST_S


def cc(control: int, value: int, channel: int = 0) -> mido.Message:
    return mido.Message("control_change", channel=channel, control=control, value=value)


def note(n: int, velocity: int = 100, channel: int = 0, on: bool = True) -> mido.Message:
    kind = "note_on" if on else "note_off"
    return mido.Message(kind, channel=channel, note=n, velocity=velocity)


def bend(pitch: int, channel: int = 0) -> mido.Message:
    return mido.Message("pitchwheel", channel=channel, pitch=pitch)


def cc14(msb_control: int, value: int, channel: int = 0) -> list[mido.Message]:
    return [cc(msb_control, value >> 7, channel), cc(msb_control + 32, value & 127, channel)]


def learn(kind: TargetKind, messages: list[mido.Message], device: str = "dev") -> Binding:
    learner = Learner("t", kind)
    for msg in messages:
        binding = learner.feed(device, msg)
        if binding is not None:
            return binding
    binding = learner.settle()
    assert binding is not None
    return binding


# -- reading messages -----------------------------------------------------------------------------


def test_a_7_bit_cc_sets_a_position_and_other_messages_do_nothing():
    m = MidiMap([Binding("fader", Source.CC, 0, 7)])
    assert m.feed(cc(7, 127)) == [Move("fader", "set", 1.0)]
    assert m.feed(cc(7, 0)) == [Move("fader", "set", 0.0)]
    assert m.feed(cc(7, 64, channel=1)) == []  # another channel
    assert m.feed(cc(8, 64)) == []
    assert m.feed(mido.Message("program_change", program=3)) == []
    assert m.feed(mido.Message("clock")) == []


def test_a_14_bit_cc_pair_reads_msb_then_lsb_as_one_fine_position():
    m = MidiMap([Binding("fader", Source.CC14, 0, 1)])
    msb, lsb = cc14(1, 12345)
    assert m.feed(msb) == []  # waits for its LSB
    [move] = m.feed(lsb)
    assert move.target == "fader" and move.value == pytest.approx(12345 / 16383)
    # Finer than 7 bits: two values one LSB apart are two positions.
    a = m.read(cc14(1, 8000))[0].value
    b = m.read(cc14(1, 8001))[0].value
    assert 0 < b - a < 1 / 127
    assert m.read(cc14(1, 16383))[0].value == 1.0
    # The LSB's number alone belongs to the pair, not to anything else.
    assert m.feed(cc(33, 5)) == [Move("fader", "set", (16383 & ~127 | 5) / 16383)]


@pytest.mark.parametrize(
    ("mode", "up", "down"),
    [
        (Mode.TWOS_COMPLEMENT, [1, 2, 63], [127, 126, 65]),
        (Mode.BINARY_OFFSET, [65, 66, 127], [63, 62, 1]),
        (Mode.SIGN_MAGNITUDE, [1, 2, 63], [65, 66, 127]),
    ],
)
def test_relative_encoders_give_ticks_in_each_coding(mode, up, down):
    assert [decode_relative(v, mode) for v in up] == [1, 2, 63]
    assert [decode_relative(v, mode) for v in down] == [-1, -2, -63]
    m = MidiMap([Binding("knob", Source.CC, 2, 20, detected=mode)])
    assert m.feed(cc(20, up[0], channel=2)) == [Move("knob", "step", 1)]
    assert m.feed(cc(20, down[1], channel=2)) == [Move("knob", "step", -2)]
    # A burst read at once is one step of all its ticks.
    assert m.read([cc(20, up[0], 2)] * 5 + [cc(20, down[0], 2)]) == [Move("knob", "step", 4)]


def test_notes_press_and_release_buttons_and_a_cc_button_too():
    m = MidiMap(
        [
            Binding("mute", Source.NOTE, 9, 36, button=True),
            Binding("play", Source.CC, 0, 41, button=True),
        ]
    )
    assert m.feed(note(36, channel=9)) == [Move("mute", "press")]
    assert m.feed(note(36, channel=9, on=False)) == [Move("mute", "release")]
    assert m.feed(note(36, velocity=0, channel=9)) == [Move("mute", "release")]  # running status
    assert m.feed(cc(41, 127)) == [Move("play", "press")]
    assert m.feed(cc(41, 0)) == [Move("play", "release")]
    # Two presses in one batch are two presses (a toggle flips twice), never merged.
    assert m.read([note(36, channel=9), note(36, channel=9)]) == [Move("mute", "press")] * 2


def test_pitch_bend_drives_a_fader_over_its_14_bit_range():
    m = MidiMap([Binding("fader", Source.PITCHWHEEL, 3)])
    assert m.feed(bend(-8192, channel=3)) == [Move("fader", "set", 0.0)]
    assert m.feed(bend(8191, channel=3)) == [Move("fader", "set", 1.0)]
    [centre] = m.feed(bend(0, channel=3))
    assert centre.value == pytest.approx(0.5, abs=1e-4)
    assert m.feed(bend(0, channel=4)) == []


def test_soft_takeover_waits_for_the_hardware_to_reach_the_control():
    """A fader on screen at 0.8 (moved by the mouse, undo or automation) and the hardware at
    0.1: its moves are ignored until it reaches 0.8 (or passes over it), then followed."""
    m = MidiMap([Binding("fader", Source.CC, 0, 7)])
    screen = {"fader": 0.8}

    def current(target: str) -> float:
        return screen[target]

    def move(value: int) -> list[Move]:
        moves = m.feed(cc(7, value), current)
        for mv in moves:
            screen[mv.target] = mv.value
            m.followed(mv.target, mv.value)
        return moves

    assert move(13) == [] and move(40) == [] and move(90) == []
    assert screen["fader"] == 0.8  # no jump
    assert move(100) == [Move("fader", "set", 100 / 127)]  # 0.787: within reach of 0.8
    assert move(80) == [Move("fader", "set", 80 / 127)]  # engaged: follows anywhere
    screen["fader"] = 0.2  # undo moved it back
    assert move(70) == []
    assert move(10) == [Move("fader", "set", 10 / 127)]  # passed over 0.2 in one jump
    # Within one batch too: the range it swept counts, not just where it ended.
    screen["fader"] = 0.5
    m._engaged.clear()
    assert m.read([cc(7, 10), cc(7, 100), cc(7, 20)], current) == [Move("fader", "set", 20 / 127)]


def test_a_batch_keeps_the_last_position_of_each_control():
    m = MidiMap([Binding("a", Source.CC, 0, 1), Binding("b", Source.CC, 0, 2)])
    moves = m.read([cc(1, 10), cc(2, 50), cc(1, 20), cc(1, 30), cc(2, 60)])
    assert moves == [Move("a", "set", 30 / 127), Move("b", "set", 60 / 127)]


def test_one_control_one_target_and_relearning_replaces():
    m = MidiMap([Binding("a", Source.CC, 0, 7), Binding("b", Source.CC, 0, 8)])
    m.bind(Binding("a", Source.CC, 0, 9))  # a moves to CC 9: CC 7 is free
    assert m.feed(cc(7, 1)) == [] and m.feed(cc(9, 1))[0].target == "a"
    m.bind(Binding("c", Source.CC, 0, 8))  # CC 8 taken from b
    assert m.get("b") is None and m.feed(cc(8, 1))[0].target == "c"
    m.bind(Binding("d", Source.CC14, 0, 1))  # takes CC 1 and 33
    m.bind(Binding("e", Source.CC, 0, 33))  # takes the LSB: the pair is gone
    assert m.get("d") is None
    assert m.forget("e") and not m.forget("e")
    assert sorted(b.target for b in m.bindings()) == ["a", "c"]


def test_choosing_a_mode_overrides_the_detected_one_and_auto_returns_to_it():
    m = MidiMap([Binding("k", Source.CC, 0, 20, detected=Mode.ABSOLUTE)])
    m.set_mode("k", Mode.BINARY_OFFSET)
    assert m.get("k").mode is Mode.BINARY_OFFSET
    assert m.feed(cc(20, 63)) == [Move("k", "step", -1)]
    m.set_mode("k", None)
    assert m.get("k").mode is Mode.ABSOLUTE and m.get("k").chosen is None
    assert m.feed(cc(20, 63)) == [Move("k", "set", 63 / 127)]


# -- learning -------------------------------------------------------------------------------------


def test_learning_a_plain_cc_fader():
    binding = learn(TargetKind.CONTINUOUS, [cc(7, v, channel=4) for v in range(40, 60)])
    assert binding == Binding("t", Source.CC, 4, 7, Mode.ABSOLUTE)
    assert binding.describe() == "CC 7, channel 5"


def test_learning_ends_after_enough_messages_or_when_the_control_rests():
    learner = Learner("t", TargetKind.CONTINUOUS)
    for v in range(LEARN_MESSAGES - 1):
        assert learner.feed("dev", cc(7, v)) is None
    assert learner.feed("dev", cc(7, 99)) is not None
    rested = Learner("t", TargetKind.CONTINUOUS)
    assert rested.settle() is None  # nothing moved yet
    rested.feed("dev", cc(11, 3))
    assert rested.settle() == Binding("t", Source.CC, 0, 11)


def test_learning_a_14_bit_fader_from_its_msb_lsb_pairs():
    messages = [m for v in range(9000, 9400, 50) for m in cc14(2, v, channel=1)]
    binding = learn(TargetKind.CONTINUOUS, messages)
    assert binding == Binding("t", Source.CC14, 1, 2)
    assert binding.describe() == "CC 2/34 (14-bit), channel 2"


@pytest.mark.parametrize(
    ("values", "mode"),
    [
        ([1, 1, 1, 1, 127, 127, 127], Mode.TWOS_COMPLEMENT),
        ([1, 1, 2, 1, 1, 1], Mode.TWOS_COMPLEMENT),  # only turned up
        ([65, 65, 65, 63, 63, 63], Mode.BINARY_OFFSET),
        ([65, 65, 66, 65, 65], Mode.BINARY_OFFSET),  # only turned up
        ([1, 1, 1, 65, 65, 65], Mode.SIGN_MAGNITUDE),
        ([60, 61, 62, 63, 64, 65, 66], Mode.ABSOLUTE),  # an absolute knob never repeats
        ([10, 9, 8, 9, 10, 11], Mode.ABSOLUTE),
        ([64], Mode.ABSOLUTE),
    ],
)
def test_relative_encoders_are_told_from_absolute_knobs(values, mode):
    assert detect_mode(values) is mode
    assert learn(TargetKind.CONTINUOUS, [cc(20, v) for v in values]).mode is mode


def test_learning_a_button_takes_the_first_press_and_a_fader_ignores_notes():
    assert learn(TargetKind.TOGGLE, [note(36, on=False), note(36, channel=9)]) == Binding(
        "t", Source.NOTE, 9, 36, button=True
    )
    assert learn(TargetKind.TRIGGER, [cc(41, 0), cc(41, 127)]) == Binding(
        "t", Source.CC, 0, 41, button=True
    )
    learner = Learner("t", TargetKind.CONTINUOUS)
    assert learner.feed("dev", note(36)) is None and learner.settle() is None
    assert learn(TargetKind.CONTINUOUS, [note(1), bend(100), bend(300)]) == Binding(
        "t", Source.PITCHWHEEL, 0
    )


def test_learning_listens_to_the_first_device_that_speaks():
    learner = Learner("t", TargetKind.CONTINUOUS)
    learner.feed("pads", cc(1, 5))
    learner.feed("keys", cc(2, 5))
    learner.feed("keys", cc(2, 6))
    assert learner.device == "pads" and learner.settle() == Binding("t", Source.CC, 0, 1)


def test_device_names_lose_the_port_numbers_alsa_gives_per_session():
    assert device_key("nanoKONTROL2:nanoKONTROL2 _ CTRL 20:0") == "nanoKONTROL2:nanoKONTROL2 _ CTRL"
    assert device_key("nanoKONTROL2:nanoKONTROL2 _ CTRL 24:0") == device_key(
        "nanoKONTROL2:nanoKONTROL2 _ CTRL 20:0"
    )
    assert device_key("RtMidiOut Client:Encore test") == "RtMidiOut Client:Encore test"


# -- persistence ----------------------------------------------------------------------------------


def test_the_mappings_file_round_trips_every_kind_of_binding(tmp_path: Path):
    path = tmp_path / "config" / "midi.json"
    store = MidiStore(path)
    assert store.load() == {}  # no file yet
    bindings = [
        Binding("strip1.fader", Source.CC14, 0, 1),
        Binding("strip1.eq_low", Source.CC, 1, 20, Mode.TWOS_COMPLEMENT),
        Binding("strip1.eq_mid", Source.CC, 1, 21, Mode.ABSOLUTE, chosen=Mode.SIGN_MAGNITUDE),
        Binding("strip1.mute", Source.NOTE, 9, 36, button=True),
        Binding("master.fader", Source.PITCHWHEEL, 8),
    ]
    store.save({"Controller A": MidiMap(bindings), "Empty": MidiMap()})
    loaded = MidiStore(path).load()
    assert list(loaded) == ["Controller A"]  # a device with nothing bound is not kept
    assert sorted(loaded["Controller A"].bindings(), key=lambda b: b.target) == sorted(
        bindings, key=lambda b: b.target
    )
    assert loaded["Controller A"].feed(note(36, channel=9)) == [Move("strip1.mute", "press")]
    assert not list(path.parent.glob(".midi-*"))  # the temporary file was renamed into place


def test_a_damaged_mappings_file_loses_only_what_is_damaged(tmp_path: Path):
    path = tmp_path / "midi.json"
    path.write_text("{not json", encoding="utf-8")
    assert MidiStore(path).load() == {}
    good = {"target": "strip1.fader", "source": "cc", "channel": 0, "number": 7}
    path.write_text(
        json.dumps(
            {
                "format": "encore.midi/1",
                "devices": {
                    "A": [good, {"target": "x", "source": "sysex", "channel": 0}],
                    "B": [{**good, "channel": 99}],
                    "C": "not a list",
                },
            }
        ),
        encoding="utf-8",
    )
    loaded = MidiStore(path).load()
    assert list(loaded) == ["A"] and [b.target for b in loaded["A"].bindings()] == ["strip1.fader"]
    path.write_text(json.dumps({"format": "encore.midi/99", "devices": {"A": [good]}}))
    assert MidiStore(path).load() == {}  # a format this version does not know
    MidiStore(None).save({"A": MidiMap([Binding("t", Source.CC, 0, 1)])})  # memory only: no-op


def test_ports_parse_what_rtmidi_calls_back_with_and_drop_clock_and_sysex():
    """The callback rtmidi makes on ALSA, CoreMIDI and Windows (its own thread), called here
    directly: there is no ALSA sequencer on this machine, and on JACK ports are read by our
    thread instead (tested with a real port below)."""
    got: list[tuple[str, mido.Message]] = []
    ports = MidiPorts(lambda port, msg: got.append((port, msg)))
    ports._called_back(([0xB2, 7, 100], 0.001), "Pads 20:0")
    ports._called_back(([0x99, 36, 127], 0.0), "Pads 20:0")
    ports._called_back(([0xF8], 0.0), "Pads 20:0")  # clock
    ports._called_back(([0xF0, 0x7E, 0x7F, 0xF7], 0.0), "Pads 20:0")  # sysex
    ports._called_back(([0xB0, 7], 0.0), "Pads 20:0")  # cut short: not a message
    assert got == [("Pads 20:0", cc(7, 100, channel=2)), ("Pads 20:0", note(36, 127, channel=9))]


# -- the studio -----------------------------------------------------------------------------------

DEVICE_PORT = "Test Controller:Test Controller MIDI 1 20:0"
DEVICE = "Test Controller:Test Controller MIDI 1"


def pump(predicate, timeout: float = 20.0) -> bool:
    """Run the Qt event loop until `predicate` holds (for the module-wide window, which has no
    qtbot of its own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        QApplication.processEvents()
        if predicate():
            return True
        time.sleep(0.005)
    return False


@pytest.fixture(scope="module")
def studio(qapp, platform, tmp_path_factory):
    """One studio window for the module's UI tests, the first demo track open, its MIDI
    mappings in a file of its own."""
    tmp = tmp_path_factory.mktemp("midi-studio")
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    tasks = TaskRunner()
    window = MainWindow(
        client, Engine(), tasks, DraftStore(tmp / "drafts"), tmp / "cache",
        midi_file=tmp / "config" / "midi.json",
    )  # fmt: skip
    window.setStyleSheet(load_theme())
    window.show()
    assert pump(lambda: window.catalog.list.count() >= 2)
    window.open_track(window.catalog.list.item(0).data(Qt.ItemDataRole.UserRole))
    assert pump(lambda: len(window.mixer.strips) >= 2, timeout=30)
    yield window
    window.close()
    tasks.wait(5000)


@pytest.fixture
def window(studio):
    """The studio with no mappings, nothing learning, nothing to undo, strip 1 as it starts."""
    midi = studio.midi
    midi.cancel(quiet=True)
    midi.maps.clear()
    studio.engine.pause()
    studio.selection.select(next(iter(studio.mixer.strips)))
    studio.menus.reset_strip.trigger()
    studio.remix_undo.clear()
    yield studio
    if midi.menu is not None:
        midi.menu.close()


def strip_one(window: MainWindow) -> tuple[str, StemStrip, int]:
    stem_id, strip = next(iter(window.mixer.strips.items()))
    return stem_id, strip, list(window.studio.track.stem_ids).index(stem_id)


def right_click(window: MainWindow, widget) -> QMenu:
    """A right-click on `widget`: the context menu it opens."""
    pos = widget.rect().center()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    QApplication.sendEvent(widget, event)
    menu = window.midi.menu
    assert menu is not None and pump(menu.isVisible)
    return menu


def send(window: MainWindow, *messages: mido.Message, port: str = DEVICE_PORT) -> None:
    """Messages as rtmidi's callback delivers them (queued), then the GUI reads them."""
    for msg in messages:
        window.midi.receive(port, msg)
    pump(lambda: not window.midi.busy)


def learn_from_menu(
    window: MainWindow,
    widget,
    *messages: mido.Message,
    action: str = "learn",
    port: str = DEVICE_PORT,
) -> None:
    """Right-click `widget`, choose `action` (Learn MIDI… or one of several), then the device
    sends `messages`."""
    menu = right_click(window, widget)
    if action == "learn":
        window.midi.action("learn").trigger()
    else:
        next(a for a in menu.actions() if a.text() == action).trigger()
    menu.close()
    assert "Esc to cancel" in window.statusBar().currentMessage()
    send(window, *messages, port=port)


def undo_text(window: MainWindow) -> str:
    window.menus.refresh()
    return window.menus.undo.text()


def test_learn_a_fader_from_its_context_menu_and_the_device_moves_it(window):
    stem_id, strip, index = strip_one(window)
    name = strip.name.text().removesuffix(" ●")
    menu = right_click(window, strip.fader)
    texts = [a.text() for a in menu.actions()]
    assert texts == [f"Strip 1 fader ({name})", "Learn MIDI…", "Forget MIDI"], texts
    assert not window.midi.action("forget").isEnabled()  # nothing mapped yet
    Path("/tmp/midi").mkdir(exist_ok=True)
    menu.grab().save("/tmp/midi/context-menu-fader.png")
    assert_none([f"fader menu: {p}" for p in menu_problems(menu)])
    window.midi.action("learn").trigger()
    menu.close()
    hint = window.statusBar().currentMessage()
    assert f"Learn MIDI for Strip 1 fader ({name}): move a fader or knob" in hint, hint
    assert "Esc to cancel" in hint

    # The controller's fader 1 sends CC 7 on channel 1, from 40 up: learning needs 8 messages.
    send(window, *(cc(7, v) for v in range(40, 40 + LEARN_MESSAGES)))
    [(device, binding)] = window.midi.bindings_of("strip1.fader")
    assert device == DEVICE and binding == Binding("strip1.fader", Source.CC, 0, 7)
    assert window.midi.learning is None
    assert "Strip 1 fader" in window.statusBar().currentMessage()
    assert window.studio.document.stems[stem_id].gain_db == 0.0  # learning moved nothing
    assert window.remix_undo.stack.count() == 0

    # Soft takeover: the fader shows 0 dB (91 % of its travel, CC 116); the hardware at 48
    # moves nothing until it reaches it, then the fader follows, down to CC 64.
    send(window, *(cc(7, v) for v in range(48, 100, 4)))
    assert strip.fader.value() == 0
    send(window, *(cc(7, v) for v in [*range(100, 128, 3), *range(127, 63, -5)]))
    send(window, cc(7, 64))
    expected = round(
        strip.fader.minimum() + 64 / 127 * (strip.fader.maximum() - strip.fader.minimum())
    )
    assert strip.fader.value() == expected
    gain = slider_to_db(expected)
    assert window.studio.document.stems[stem_id].gain_db == gain
    assert window.engine._gain_db[index] == gain
    assert strip.db_label.text() == f"{gain:+.1f} dB"
    # The whole move is one undo step, named as a mouse drag's would be.
    assert window.remix_undo.stack.count() == 1
    assert undo_text(window) == f"Undo {name} fader"

    # A pause, then another move: a second step.
    time.sleep(WHEEL_BURST_S + 0.1)
    send(window, cc(7, 66), cc(7, 70))
    assert window.remix_undo.stack.count() == 2

    window.remix_undo.stack.undo()
    window.remix_undo.stack.undo()
    assert window.studio.document.stems[stem_id].gain_db == 0.0
    assert strip.fader.value() == 0 and window.engine._gain_db[index] == 0.0
    # Undo put the fader back at 0 dB: the hardware (at 70) must come to it again.
    send(window, cc(7, 60))
    assert strip.fader.value() == 0

    menu = right_click(window, strip.fader)
    forget = window.midi.action("forget")
    assert forget.isEnabled() and forget.text() == (
        f"Forget MIDI (CC 7, channel 1 on \u2068{DEVICE}\u2069)"
    )
    forget.trigger()
    menu.close()
    assert window.midi.bindings_of("strip1.fader") == []


def test_esc_cancels_learning_and_a_fader_ignores_pads(window):
    _stem_id, strip, _index = strip_one(window)
    right_click(window, strip.pan)
    window.midi.action("learn").trigger()
    window.midi.menu.close()
    send(window, note(36))  # a pad is no fader: still learning
    assert window.midi.learning is not None
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert window.midi.learning is None
    assert window.statusBar().currentMessage() == "MIDI learn cancelled."
    send(window, *(cc(10, v) for v in range(20, 40)))
    assert window.midi.maps == {}


def test_mute_by_a_pad_play_and_return_to_start_by_buttons(window):
    stem_id, strip, index = strip_one(window)
    name = strip.name.text().removesuffix(" ●")
    learn_from_menu(window, strip.mute, note(36, channel=9))
    assert window.midi.bindings_of("strip1.mute")[0][1] == Binding(
        "strip1.mute", Source.NOTE, 9, 36, button=True
    )
    send(window, note(36, channel=9))
    assert strip.mute.isChecked() and window.studio.document.stems[stem_id].mute
    assert window.engine._mute[index]
    send(window, note(36, channel=9, on=False))  # the release does nothing
    assert strip.mute.isChecked()
    send(window, note(36, channel=9), note(36, channel=9, on=False))
    assert not strip.mute.isChecked() and not window.studio.document.stems[stem_id].mute
    assert window.remix_undo.stack.count() == 2  # a step per press
    assert undo_text(window) == f"Undo Unmute {name}"

    # The play button's menu learns Play/pause and Return to start.
    play = window.transport.play_button
    menu = right_click(window, play)
    learns = [a.text() for a in menu.actions() if a.objectName() == "learn"]
    assert learns == ["Learn MIDI for Play / pause…", "Learn MIDI for Return to start…"]
    menu.grab().save("/tmp/midi/context-menu-play.png")
    assert_none([f"play menu: {p}" for p in menu_problems(menu)])
    menu.close()
    learn_from_menu(window, play, cc(41, 127), action="Learn MIDI for Play / pause…")
    learn_from_menu(window, play, note(37), action="Learn MIDI for Return to start…")
    stream = window.studio.track
    assert pump(lambda: stream.ready_at(0), timeout=30)
    send(window, cc(41, 127), cc(41, 0))
    assert window.engine.playing
    send(window, cc(41, 127))
    assert not window.engine.playing
    window.engine.seek(20.0)
    assert pump(lambda: window.engine.position_seconds > 19)
    send(window, note(37))
    assert pump(lambda: window.engine.position_seconds < 1)


def test_a_relative_encoder_turns_a_knob_and_its_reading_can_be_chosen(window):
    stem_id, strip, _index = strip_one(window)
    knob = strip.eq_low
    # An encoder in two's complement: three ticks up, three down, more up (repeats: relative).
    learn_from_menu(window, knob, *(cc(20, v) for v in (1, 1, 1, 127, 127, 127, 1, 1)))
    [(_device, binding)] = window.midi.bindings_of("strip1.eq_low")
    assert binding.mode is Mode.TWOS_COMPLEMENT and binding.chosen is None
    send(window, *[cc(20, 1)] * 5)  # five ticks up, one step of the knob's keys each
    assert knob.value() == pytest.approx(0.05 * 48.0)
    assert window.studio.document.stems[stem_id].eq_low_db == knob.value()
    send(window, cc(20, 126))  # two down
    assert knob.value() == pytest.approx(0.03 * 48.0)
    assert window.remix_undo.stack.count() == 1  # one gesture

    menu = right_click(window, knob)
    menu.grab().save("/tmp/midi/context-menu-knob.png")
    assert_none([f"knob menu: {p}" for p in menu_problems(menu)])
    sub = next(a.menu() for a in menu.actions() if a.menu() is not None)
    assert sub.title() == "Read the MIDI control as"
    modes = {a.text(): a for a in sub.actions()}
    assert modes["Detected: relative (two's complement)"].isChecked()
    Path("/tmp/midi").mkdir(exist_ok=True)
    sub.popup(menu.pos())
    pump(sub.isVisible)
    sub.grab().save("/tmp/midi/context-menu-knob-modes.png")
    assert_none([f"knob modes: {p}" for p in menu_problems(sub)])
    modes[MODE_LABELS[Mode.BINARY_OFFSET]].trigger()
    sub.close()
    menu.close()
    assert window.midi.bindings_of("strip1.eq_low")[0][1].mode is Mode.BINARY_OFFSET
    before = knob.value()
    send(window, cc(20, 63))  # binary offset: one tick down
    assert knob.value() == pytest.approx(before - 0.01 * 48.0)


def test_automation_records_what_the_device_moves(window):
    """Arm automation from the device (the record button learnt to a pad), play, move the
    fader on the device: the pass is recorded as a mouse drag's would be."""
    stem_id, strip, _index = strip_one(window)
    track = window.studio.track
    assert pump(lambda: track.ready_at(0) and track.ready_at(48000 * 3), timeout=30)
    learn_from_menu(window, window.transport.record_button, note(40))
    learn_from_menu(window, strip.fader, *(cc(7, v) for v in range(1, 9)))
    send(window, note(40))
    assert window.transport.record_button.isChecked() and window.studio.automation_armed
    out = np.zeros((256, 2), dtype=np.float32)
    window.engine.seek(0.0)
    window.engine.play()
    for _ in range(60):
        window.engine.process(out)  # as the device callback would (no device needed here)
    send(window, *(cc(7, v) for v in range(127, 79, -4)))  # from above 0 dB down to -18 dB
    for _ in range(60):
        window.engine.process(out)
    window.engine.pause()
    window._tick()  # the UI timer sees the stop and writes the pass
    send(window, note(40))  # disarm
    assert not window.transport.record_button.isChecked()
    assert (stem_id, "gain_db") in window.studio.automated()
    name = strip.name.text().removesuffix(" ●")
    assert undo_text(window) == f"Undo Record {name} fader automation"
    window.remix_undo.stack.undo()
    assert (stem_id, "gain_db") not in window.studio.automated()


def test_14_bit_and_pitch_bend_faders(window):
    stem_id, strip, _index = strip_one(window)
    master = window.mixer.master.fader
    learn_from_menu(window, strip.fader, *(m for v in range(14000, 15000, 100) for m in cc14(0, v)))
    assert window.midi.bindings_of("strip1.fader")[0][1].source is Source.CC14
    # 0 dB is at 600/660 of the travel: a 14-bit fader lands on it to the tenth of a dB.
    zero = round(600 / 660 * 16383)
    send(window, *cc14(0, zero - 30), *cc14(0, zero))
    assert strip.fader.value() == 0
    send(window, *cc14(0, zero - 25))
    assert strip.fader.value() == -1 and window.studio.document.stems[stem_id].gain_db == -0.1

    # A Mackie-style fader sends pitch bend: the master fader follows it.
    learn_from_menu(window, master, bend(-8000, channel=8), bend(-7000, channel=8))
    pump(lambda: window.midi.bindings_of("master.fader"), timeout=5)  # it rests: learning ends
    assert window.midi.bindings_of("master.fader")[0][1].source is Source.PITCHWHEEL
    top = master.maximum() - master.minimum()
    at = (master.value() - master.minimum()) / top  # where it is: the hardware picks it up there
    send(window, bend(round(at * 16383) - 8192, channel=8), bend(8191, channel=8))
    assert master.value() == master.maximum()
    assert window.studio.document.master_gain_db == master.maximum() / 10


def test_mappings_are_saved_per_device_and_restored_in_the_next_window(
    window, qtbot, platform, tmp_path
):
    learn_from_menu(window, window.mixer.master.fader, *(cc(9, v) for v in range(1, 9)))
    learn_from_menu(window, window.transport.loop_button, note(50), port="Pads 24:0")
    saved = json.loads(window.midi.store.path.read_text())
    assert set(saved["devices"]) == {DEVICE, "Pads"}
    # A new window (the next start), the device plugged into another USB socket (24:0).
    client = PlatformClient(platform.url)
    client.login("fan", "encore-demo")
    tasks = TaskRunner()
    again = MainWindow(
        client, Engine(), tasks, DraftStore(tmp_path / "drafts"), tmp_path / "cache",
        midi_file=window.midi.store.path,
    )  # fmt: skip
    qtbot.addWidget(again)
    assert again.midi.bindings_of("master.fader") == [
        (DEVICE, Binding("master.fader", Source.CC, 0, 9))
    ]
    assert again.midi.bindings_of("transport.loop")[0][0] == "Pads"
    fader = again.midi.controls["master.fader"].widget
    for v in range(110, -1, -1):  # from above 0 dB (80 %, where it picks up) to the bottom
        again.midi.receive("Test Controller:Test Controller MIDI 1 24:0", cc(9, v))
    qtbot.waitUntil(lambda: fader.value() == fader.minimum(), timeout=5000)
    again.close()
    tasks.wait(5000)


def test_the_midi_dialog_lists_devices_and_mappings_and_forgets_them(window, qtbot, themed):
    learn_from_menu(window, window.mixer.master.fader, *(cc(9, v) for v in range(1, 9)))
    _stem_id, strip, _index = strip_one(window)
    learn_from_menu(window, strip.solo, note(36, channel=9))
    learn_from_menu(window, strip.eq_mid, *(cc(21, v) for v in (65, 65, 65, 63, 63, 63, 65, 65)))
    window.menus.refresh()
    action = window.midi.devices_action
    assert action in window.menus.mixer_menu.actions()
    action.trigger()
    dialog = window.midi.dialog
    qtbot.waitUntil(dialog.isVisible)
    tree = dialog.tree
    device = tree.topLevelItem(0)
    assert device.text(0) == f"{DEVICE}  ·  not connected, 3 mapped"
    rows = [tuple(device.child(i).text(c) for c in range(3)) for i in range(device.childCount())]
    name = strip.name.text().removesuffix(" ●")
    assert rows == [
        ("Master fader", "CC 9, channel 1", "Absolute, detected"),
        (f"Strip 1 EQ mid ({name})", "CC 21, channel 1", "Relative (binary offset), detected"),
        (f"Strip 1 solo ({name})", "Note 36, channel 10", "Button"),
    ]
    assert dialog.status.text() == "MIDI inputs are not open in this window."
    dialog.resize(720, 420)
    Path("/tmp/midi").mkdir(exist_ok=True)
    assert_none(legibility_problems(qtbot, dialog, "midi-dialog"))
    dialog.grab().save("/tmp/midi/midi-dialog.png")

    tree.setCurrentItem(device.child(0))
    assert dialog.forget_button.isEnabled()
    dialog.forget_button.click()
    assert window.midi.bindings_of("master.fader") == []
    device = tree.topLevelItem(0)
    assert device.childCount() == 2
    saved = json.loads(window.midi.store.path.read_text())
    assert {e["target"] for e in saved["devices"][DEVICE]} == {"strip1.eq_mid", "strip1.solo"}
    tree.setCurrentItem(device)
    dialog.forget_device_button.click()
    assert (
        window.midi.maps == {} and json.loads(window.midi.store.path.read_text())["devices"] == {}
    )
    assert tree.topLevelItem(0).text(0) == "No MIDI device yet"
    dialog.close()


def test_no_midi_system_is_said_plainly(window, monkeypatch, tmp_path):
    """A computer with neither an ALSA sequencer nor a JACK server (this one, unless a test's
    JACK server runs): the inputs say so, learning says so, nothing breaks."""
    monkeypatch.setattr(midiports, "ALSA_SEQ", tmp_path / "no-seq")
    monkeypatch.setattr(midiports, "SHM", tmp_path)
    ports = MidiPorts(lambda _p, _m: None)
    ports.rescan()
    if sys.platform.startswith("linux"):
        assert ports.system is None and ports.names == []
        assert ports.describe().startswith("No MIDI system on this computer")
    midi = window.midi
    monkeypatch.setattr(midi, "ports", ports)
    right_click(window, window.mixer.master.fader)
    midi.action("learn").trigger()
    midi.menu.close()
    assert ports.describe() in window.statusBar().currentMessage()
    midi.rescan()
    midi.cancel()


# -- real ports -----------------------------------------------------------------------------------

ALSA = MidiSystem(rtmidi.API_LINUX_ALSA, "ALSA")
JACK = MidiSystem(rtmidi.API_UNIX_JACK, "JACK")
MIDO_BACKENDS = {ALSA: "mido.backends.rtmidi/LINUX_ALSA", JACK: "mido.backends.rtmidi/UNIX_JACK"}


@contextlib.contextmanager
def midi_system(system: MidiSystem) -> Iterator[None]:
    if system is ALSA:
        if not midiports.ALSA_SEQ.exists():
            pytest.skip(
                "no ALSA sequencer on this machine (/dev/snd/seq is missing: the kernel has no "
                "snd-seq module here), so no virtual ALSA port; the JACK test sends through a "
                "real virtual port instead"
            )
        yield
        return
    if shutil.which("jackd") is None:
        pytest.skip("jackd is not installed (apt-get install jackd2)")
    with JackProcess(server_name("midi")):
        yield


@pytest.mark.parametrize("system", [ALSA, JACK], ids=["alsa", "jack"])
def test_a_real_virtual_port_learns_and_moves_a_fader(window, system):
    """A virtual output port of the MIDI system (what a controller is to Encore), found by
    rescanning, learnt from the context menu, then moving the fader: every message crosses from
    rtmidi's thread to the GUI's through the queue."""
    stem_id, strip, _index = strip_one(window)
    midi = window.midi
    threads: set[int] = set()
    put = midi.queue.put

    def spy(port: str, msg: mido.Message) -> None:
        threads.add(threading.get_ident())
        put(port, msg)

    with midi_system(system):
        backend = mido.Backend(MIDO_BACKENDS[system], load=True)
        out = backend.open_output("Encore Test Knobs", virtual=True)
        ports = MidiPorts(spy, system)
        midi.ports = ports
        try:
            midi.rescan()
            [name] = [n for n in ports.names if "Encore Test Knobs" in n]
            assert "Listening to 1 MIDI input" in midi.inputs_text()
            right_click(window, strip.fader)
            midi.action("learn").trigger()
            midi.menu.close()
            for v in range(10, 10 + LEARN_MESSAGES):
                out.send(cc(3, v, channel=2))
            assert pump(lambda: midi.bindings_of("strip1.fader"), timeout=10)
            [(device, binding)] = midi.bindings_of("strip1.fader")
            assert device == device_key(name) and binding.describe() == "CC 3, channel 3"
            for v in [*range(110, 128), *range(127, 30, -1)]:
                out.send(cc(3, v, channel=2))
            target = round(
                strip.fader.minimum() + 31 / 127 * (strip.fader.maximum() - strip.fader.minimum())
            )
            assert pump(lambda: strip.fader.value() == target, timeout=10)
            assert window.studio.document.stems[stem_id].gain_db == slider_to_db(target)
            assert threads and threading.get_ident() not in threads  # rtmidi's own thread
        finally:
            ports.close()
            midi.ports = None
            out.close()
