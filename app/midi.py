"""MIDI learn without Qt: which message moves which control, how far, and remembering it.

The studio's controls are named by opaque target ids (the UI's business: "strip1.fader",
"transport.play"); this module never sees a widget. It holds:

- `Binding`: one control on a device (a CC, a 14-bit CC pair, a note, pitch bend) bound to one
  target, with how a CC's values are read (absolute, or one of the three relative-encoder
  codings).
- `MidiMap`: a device's bindings; `feed(message)` turns a mido message into `Move`s (set a
  position in [0, 1], step by encoder ticks, press, release), with soft takeover for absolute
  controls so a hardware fader that disagrees with the screen does not make the sound jump.
- `Learner`: what the user moved after "Learn MIDI", decided from the messages themselves (a
  14-bit pair, a relative encoder and its coding, a note for a button).
- `MidiStore`: every device's bindings in one JSON file under the config dir, keyed by the
  device's name without the port numbers the system assigns per session.

Everything here runs on the GUI thread (the rtmidi callback only queues messages: ui/midilearn.py),
so nothing locks.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

import mido
import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

FORMAT = "encore.midi/1"

MAX_7 = 127
MAX_14 = 16383
PITCH_CENTRE = 8192
LSB_OFFSET = 32
"""A 14-bit CC is CC n (MSB, n < 32) followed by CC n + 32 (LSB), as the MIDI spec pairs them."""

TAKEOVER = 3 / MAX_7
"""Soft takeover: an absolute control picks the target up once it comes within this much of the
target's position (or passes over it); until then its moves are ignored, so a fader that sits
elsewhere than the one on screen (moved by the mouse, undo or automation) makes no jump."""

LEARN_MESSAGES = 8
"""Messages from one control that end learning a fader or knob (enough to see a 14-bit pair or
the repeats of an encoder); fewer end it when the control rests (`Learner.settle`)."""
REPEAT_SHARE = 0.4
"""An encoder sends the same value again and again (1, 1, 1 = three ticks up); an absolute knob
never repeats a value in a row. At least this share of repeats in a row reads as relative."""


class TargetKind(Enum):
    """What a target does with a message."""

    CONTINUOUS = "continuous"  # faders and knobs: a position in [0, 1] or encoder ticks
    TOGGLE = "toggle"  # mute, solo, loop: a press flips it
    TRIGGER = "trigger"  # play, return to start: a press runs it


class Source(Enum):
    CC = "cc"
    CC14 = "cc14"
    NOTE = "note"
    PITCHWHEEL = "pitchwheel"


class Mode(Enum):
    """How a CC's value is read: a position, or a signed number of encoder ticks."""

    ABSOLUTE = "absolute"
    TWOS_COMPLEMENT = "twos_complement"  # 1..63 up, 127 = -1, 65 = -63
    BINARY_OFFSET = "binary_offset"  # 65 = +1, 63 = -1 (64 is no move)
    SIGN_MAGNITUDE = "sign_magnitude"  # 1 = +1, 65 = -1 (bit 6 is the sign)


MODE_LABELS = {
    Mode.ABSOLUTE: "Absolute (knob or fader)",
    Mode.TWOS_COMPLEMENT: "Relative encoder (two's complement: 1 up, 127 down)",
    Mode.BINARY_OFFSET: "Relative encoder (binary offset: 65 up, 63 down)",
    Mode.SIGN_MAGNITUDE: "Relative encoder (sign and magnitude: 1 up, 65 down)",
}
"""How each mode is named to people (menus, the MIDI dialog)."""


def decode_relative(value: int, mode: Mode) -> int:
    """Encoder ticks (negative: down) that `value` means in `mode`."""
    if mode is Mode.TWOS_COMPLEMENT:
        return value if value < 64 else value - 128
    if mode is Mode.BINARY_OFFSET:
        return value - 64
    if mode is Mode.SIGN_MAGNITUDE:
        return -(value & 63) if value & 64 else value & 63
    raise ValueError(f"{mode} is not a relative mode")


def device_key(port_name: str) -> str:
    """The name a device's bindings are kept under: its port name without the client:port
    numbers ALSA appends ("nanoKONTROL2:nanoKONTROL2 _ CTRL 20:0"), which change from one session
    (or USB socket) to the next while the device stays the same."""
    return re.sub(r"\s+\d+:\d+$", "", port_name.strip())


@dataclass(frozen=True)
class Binding:
    """One hardware control bound to one target. `number` is the CC (the MSB's for a 14-bit
    pair) or the note; 0 for pitch bend. A CC is read as `chosen` (picked in the context menu)
    or else as `detected` while learning. `button`: the target is a button (mute, play…), so a
    CC or pitch bend presses it over half way and releases it under."""

    target: str
    source: Source
    channel: int
    number: int = 0
    detected: Mode = Mode.ABSOLUTE
    chosen: Mode | None = None
    button: bool = False

    @property
    def mode(self) -> Mode:
        return self.chosen or self.detected

    @property
    def keys(self) -> tuple[tuple[Source, int, int], ...]:
        """The (source, channel, number) of each message this binding listens to."""
        if self.source is Source.CC14:
            msb = (Source.CC, self.channel, self.number)
            return (msb, (Source.CC, self.channel, self.number + LSB_OFFSET))
        return ((self.source, self.channel, self.number),)

    def describe(self) -> str:
        """For people: "CC 7, channel 1", "CC 0/32 (14-bit), channel 1", "Note 36, channel 10"."""
        what = {
            Source.CC: f"CC {self.number}",
            Source.CC14: f"CC {self.number}/{self.number + LSB_OFFSET} (14-bit)",
            Source.NOTE: f"Note {self.number}",
            Source.PITCHWHEEL: "Pitch bend",
        }[self.source]
        return f"{what}, channel {self.channel + 1}"


def message_key(msg: mido.Message) -> tuple[Source, int, int] | None:
    """(source, channel, number) of a channel message a binding can listen to; None for the
    rest (clock, sysex, program change…)."""
    if msg.type == "control_change":
        return (Source.CC, msg.channel, msg.control)
    if msg.type in ("note_on", "note_off"):
        return (Source.NOTE, msg.channel, msg.note)
    if msg.type == "pitchwheel":
        return (Source.PITCHWHEEL, msg.channel, 0)
    return None


@dataclass(frozen=True)
class Move:
    """What a message asks of a target: `set` a position in [0, 1], `step` by `value` encoder
    ticks, `press` or `release` a button."""

    target: str
    action: str
    value: float = 0.0


class MidiMap:
    """A device's bindings (at most one per target, and one target per hardware control) and the
    state of reading them: the last MSB of each 14-bit pair, the last hardware position of each
    absolute control and whether it has picked its target up (soft takeover)."""

    def __init__(self, bindings: Iterable[Binding] = ()) -> None:
        self._by_target: dict[str, Binding] = {}
        self._by_key: dict[tuple[Source, int, int], Binding] = {}
        self._msb: dict[tuple[int, int], int] = {}
        self._hardware: dict[str, float] = {}  # last position an absolute control sent
        self._engaged: dict[str, float] = {}  # target -> the position we last set it to
        for binding in bindings:
            self.bind(binding)

    def __len__(self) -> int:
        return len(self._by_target)

    def bindings(self) -> list[Binding]:
        return list(self._by_target.values())

    def get(self, target: str) -> Binding | None:
        return self._by_target.get(target)

    def bind(self, binding: Binding) -> None:
        """Bind, replacing the target's old binding and whatever the control moved before."""
        self.forget(binding.target)
        for key in binding.keys:
            old = self._by_key.get(key)
            if old is not None:
                self.forget(old.target)
        self._by_target[binding.target] = binding
        for key in binding.keys:
            self._by_key[key] = binding

    def forget(self, target: str) -> bool:
        binding = self._by_target.pop(target, None)
        if binding is None:
            return False
        for key in binding.keys:
            if self._by_key.get(key) is binding:
                del self._by_key[key]
        self._hardware.pop(target, None)
        self._engaged.pop(target, None)
        return True

    def set_mode(self, target: str, mode: Mode | None) -> Binding | None:
        """Read a CC binding as `mode` (None: as detected when it was learnt)."""
        binding = self._by_target.get(target)
        if binding is None or binding.source is not Source.CC or binding.button:
            return None
        changed = replace(binding, chosen=mode)
        self._by_target[target] = changed
        for key in changed.keys:
            self._by_key[key] = changed
        self._hardware.pop(target, None)
        self._engaged.pop(target, None)
        return changed

    # -- reading messages -------------------------------------------------------------------------

    def feed(
        self, msg: mido.Message, current: Callable[[str], float | None] = lambda _t: None
    ) -> list[Move]:
        """The moves one message makes (see `read`)."""
        return self.read([msg], current)

    def read(
        self,
        messages: Iterable[mido.Message],
        current: Callable[[str], float | None] = lambda _t: None,
    ) -> list[Move]:
        """The moves a batch of messages makes: each absolute control's last position, each
        encoder's ticks summed, every press and release in order. The GUI reads what queued up
        since it last looked: a 14-bit fader sends ~1000 messages a second, and one position per
        look is all the remix needs.

        `current(target)`: the target's position now (None: unknown, no takeover). A position
        that has not picked its target up yet (see TAKEOVER) is left out."""
        raw = [move for msg in messages for move in self._raw(msg)]
        span: dict[str, tuple[float, float]] = {}  # each absolute control's range in the batch
        for move in raw:
            if move.action == "set":
                lo, hi = span.get(move.target, (move.value, move.value))
                span[move.target] = (min(lo, move.value), max(hi, move.value))
        moves = []
        for move in coalesce(raw):
            if move.action == "set":
                previous = self._hardware.get(move.target)
                self._hardware[move.target] = move.value
                now = current(move.target)
                lo, hi = span[move.target]
                if previous is not None:
                    lo, hi = min(lo, previous), max(hi, previous)
                if now is not None and not self._picked_up(move.target, lo, hi, now):
                    continue
            moves.append(move)
        return moves

    def _raw(self, msg: mido.Message) -> list[Move]:
        key = message_key(msg)
        binding = self._by_key.get(key) if key is not None else None
        if binding is None:
            return []
        target = binding.target
        if binding.source is Source.NOTE:
            pressed = msg.type == "note_on" and msg.velocity > 0
            return [Move(target, "press" if pressed else "release")]
        if binding.source is Source.PITCHWHEEL:
            position = (msg.pitch + PITCH_CENTRE) / MAX_14
        elif binding.source is Source.CC14:
            pair = (binding.channel, binding.number)
            if msg.control == binding.number:  # the MSB: the LSB that follows completes it
                self._msb[pair] = msg.value
                return []
            position = ((self._msb.get(pair, 0) << 7) | msg.value) / MAX_14
        elif binding.mode is not Mode.ABSOLUTE and not binding.button:
            ticks = decode_relative(msg.value, binding.mode)
            return [Move(target, "step", ticks)] if ticks else []
        else:
            position = msg.value / MAX_7
        if binding.button:  # a CC button: 127 pressed, 0 released
            return [Move(target, "press" if position >= 0.5 else "release")]
        return [Move(target, "set", position)]

    def _picked_up(self, target: str, lo: float, hi: float, now: float) -> bool:
        """Whether the hardware, which went over [lo, hi] since the last batch, has the target:
        it kept it since we last set it, or came within TAKEOVER of it, or passed over it."""
        engaged = self._engaged.get(target)
        if engaged is not None and abs(engaged - now) <= 1e-6:
            return True  # nothing else moved the target since we last did: follow
        self._engaged.pop(target, None)
        return lo - TAKEOVER <= now <= hi + TAKEOVER

    def followed(self, target: str, position: float) -> None:
        """The UI set `target` to `position` from this map's move: until something else moves
        it, the control keeps it (a snapping knob lands off the hardware's exact position)."""
        self._engaged[target] = position


def coalesce(moves: Iterable[Move]) -> list[Move]:
    """One move per target and kind where a later one overrides an earlier one: the last
    position, the sum of the ticks; presses and releases all kept, in order."""
    out: list[Move] = []
    where: dict[tuple[str, str], int] = {}
    for move in moves:
        if move.action in ("set", "step"):
            i = where.get((move.target, move.action))
            if i is not None:
                value = move.value if move.action == "set" else out[i].value + move.value
                out[i] = Move(move.target, move.action, value)
                continue
            where[(move.target, move.action)] = len(out)
        out.append(move)
    return out


# -- learning -------------------------------------------------------------------------------------


@dataclass
class Learner:
    """Watches what the user moves after "Learn MIDI" on `target` and decides the binding.

    A button target takes the first press (a note, or a CC over 0). A fader or knob takes the
    control that sent most, once it sent LEARN_MESSAGES (or when it rests: `settle`): CC n with
    CC n+32 beside it is a 14-bit pair; a CC whose values repeat is a relative encoder, its
    coding read from where the values sit (near 0/128, near 64, or 1.. and 65..). Notes are no
    fader; pitch bend is (a Mackie-style fader sends it). Messages from a second device are
    ignored: the first one to speak is the one being learnt."""

    target: str
    kind: TargetKind
    device: str | None = None
    messages: list[mido.Message] = field(default_factory=list)

    def feed(self, device: str, msg: mido.Message) -> Binding | None:
        """The binding, once this message decides it; None while it is still open."""
        key = message_key(msg)
        if key is None or (self.device is not None and device != self.device):
            return None
        source, channel, number = key
        if self.kind is not TargetKind.CONTINUOUS:
            pressed = (msg.type == "note_on" and msg.velocity > 0) or (
                msg.type == "control_change" and msg.value > 0
            )
            if not pressed:
                return None
            self.device = device
            return Binding(self.target, source, channel, number, button=True)
        if source is Source.NOTE:
            return None
        self.device = device
        self.messages.append(msg)
        main = self._main_key()
        if main is not None and sum(1 for m in self.messages if self._belongs(m, main)) >= (
            LEARN_MESSAGES
        ):
            return self.settle()
        return None

    def settle(self) -> Binding | None:
        """Decide from what came so far (the control rests); None when nothing came."""
        main = self._main_key()
        if main is None:
            return None
        source, channel, number = main
        if source is Source.PITCHWHEEL:
            return Binding(self.target, Source.PITCHWHEEL, channel)
        if self._is_14_bit(main):
            return Binding(self.target, Source.CC14, channel, number)
        values = [m.value for m in self.messages if message_key(m) == main]
        return Binding(self.target, Source.CC, channel, number, detect_mode(values))

    def _main_key(self) -> tuple[Source, int, int] | None:
        counts = Counter(key for m in self.messages if (key := message_key(m)) is not None)
        if not counts:
            return None
        # An LSB counts for its MSB: a 14-bit fader is one control, not two.
        merged: Counter[tuple[Source, int, int]] = Counter()
        for (source, channel, number), n in counts.items():
            msb = (source, channel, number - LSB_OFFSET)
            if source is Source.CC and LSB_OFFSET <= number < 2 * LSB_OFFSET and msb in counts:
                merged[msb] += n
            else:
                merged[(source, channel, number)] += n
        return merged.most_common(1)[0][0]

    def _is_14_bit(self, main: tuple[Source, int, int]) -> bool:
        source, channel, number = main
        lsb = (Source.CC, channel, number + LSB_OFFSET)
        return (
            source is Source.CC
            and number < LSB_OFFSET
            and any(message_key(m) == lsb for m in self.messages)
        )

    def _belongs(self, msg: mido.Message, main: tuple[Source, int, int]) -> bool:
        key = message_key(msg)
        source, channel, number = main
        return key == main or key == (source, channel, number + LSB_OFFSET)


def detect_mode(values: list[int]) -> Mode:
    """Absolute or a relative coding, from the values one CC sent while it was turned."""
    if len(values) < 2:
        return Mode.ABSOLUTE
    repeats = sum(1 for a, b in itertools.pairwise(values) if a == b)
    if repeats / (len(values) - 1) < REPEAT_SHARE:
        return Mode.ABSOLUTE
    seen = set(values)
    if any(v >= 96 for v in seen):
        return Mode.TWOS_COMPLEMENT  # -1 is 127
    if any(32 <= v <= 63 for v in seen):
        return Mode.BINARY_OFFSET  # -1 is 63
    if any(v >= 65 for v in seen) and any(v < 32 for v in seen):
        return Mode.SIGN_MAGNITUDE  # +1 is 1, -1 is 65
    if all(v >= 64 for v in seen):
        return Mode.BINARY_OFFSET  # only turned up: 65, 66…
    return Mode.TWOS_COMPLEMENT  # only turned up: 1, 2… (sign-magnitude reads it the same)


# -- persistence ----------------------------------------------------------------------------------


class _StoredBinding(BaseModel):
    model_config = ConfigDict(extra="ignore")

    target: str = Field(min_length=1, max_length=100)
    source: Source
    channel: int = Field(ge=0, le=15)
    number: int = Field(0, ge=0, le=127)
    detected: Mode = Mode.ABSOLUTE
    chosen: Mode | None = None
    button: bool = False


def default_path() -> Path:
    """Beside settings.json (app/settings.py): a preference, not data."""
    return Path(platformdirs.user_config_dir("encore")) / "midi.json"


class MidiStore:
    """Every device's bindings in one JSON file (`path`; None keeps them in memory only).

    A missing or unreadable file, or an entry that does not validate, is left out (a newer
    version's target, a hand edit): MIDI mappings must never stop the studio from starting.
    Written atomically, as settings.json is."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> dict[str, MidiMap]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            devices = data["devices"] if data.get("format") == FORMAT else {}
        except (OSError, ValueError, AttributeError, KeyError, TypeError):
            return {}
        maps: dict[str, MidiMap] = {}
        for device, entries in devices.items() if isinstance(devices, dict) else ():
            bindings = []
            for entry in entries if isinstance(entries, list) else ():
                try:
                    b = _StoredBinding.model_validate(entry)
                except ValidationError:
                    continue
                bindings.append(
                    Binding(b.target, b.source, b.channel, b.number, b.detected, b.chosen, b.button)
                )
            if bindings:
                maps[str(device)] = MidiMap(bindings)
        return maps

    def save(self, maps: dict[str, MidiMap]) -> None:
        if self.path is None:
            return
        devices = {
            device: [
                {
                    "target": b.target,
                    "source": b.source.value,
                    "channel": b.channel,
                    "number": b.number,
                    "detected": b.detected.value,
                    "chosen": b.chosen.value if b.chosen else None,
                    "button": b.button,
                }
                for b in sorted(m.bindings(), key=lambda b: b.target)
            ]
            for device, m in sorted(maps.items())
            if len(m)
        }
        text = json.dumps({"format": FORMAT, "devices": devices}, indent=2) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".midi-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
