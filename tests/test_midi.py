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

import json
from pathlib import Path

import mido
import pytest

from app.midi import (
    LEARN_MESSAGES,
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
