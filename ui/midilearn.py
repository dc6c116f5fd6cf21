"""MIDI learn in the studio (issue 11 item 5): right-click a fader, knob, pan, mute, solo or
transport button ▸ Learn MIDI, move a control on the device, done.

What is mapped: controls by their place, not by the track's stems: "strip 1 fader" is the first
strip's fader on every track (a controller's fader 1 is a channel, as on a console), the master
fader, the Returns knobs and the transport (play/pause, return to start, loop, loop section, arm
automation). Mappings are kept per device (app/midi.py) in midi.json beside settings.json.

Threads: rtmidi calls back on its own thread; `MidiQueue.put` only appends to a deque and, when
the deque was empty, emits a signal queued to the GUI thread, which reads everything waiting at
once (a 14-bit fader sends ~1000 messages a second; one position per look reaches the remix).
Nothing here touches the engine: a move sets the widget (`setValue`, `Knob.set_position`,
`click`) exactly as the mouse or keyboard does, so the strip's signal reaches `Studio`, the undo
stack, automation recording and the draft the usual way. Each MIDI gesture (messages with no
pause over WHEEL_BURST_S, or one button press) is one undo step.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import mido
import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QContextMenuEvent, QKeyEvent
from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QApplication, QMenu, QWidget

from app.midi import (
    MODE_LABELS,
    Binding,
    Learner,
    MidiMap,
    MidiStore,
    Mode,
    Move,
    Source,
    TargetKind,
    device_key,
)
from app.midiports import MidiPorts, MidiSystem
from ui.knob import Knob
from ui.undo import WHEEL_BURST_S

if TYPE_CHECKING:
    from ui.mainwindow import MainWindow

SETTLE_MS = 500
"""Learning a fader or knob ends this long after its last message (or after LEARN_MESSAGES)."""
SCAN_MS = 2000
"""How often the inputs are looked for (a device plugged in, or unplugged)."""
APPLY_S = 0.015
"""Fader and knob moves reach the widgets at most this often (~66 a second, as a mouse drag's
do): a 14-bit fader sends ~1000 messages a second, and each move the remix takes costs the UI
thread ~2 ms (document, engine, undo snapshot, draft). Presses are never held back."""

STRIP_PARTS: tuple[tuple[str, str, str, TargetKind], ...] = (
    # (target suffix, StemStrip attribute, label, kind)
    ("fader", "fader", "fader", TargetKind.CONTINUOUS),
    ("pan", "pan", "pan", TargetKind.CONTINUOUS),
    ("eq_low", "eq_low", "EQ low", TargetKind.CONTINUOUS),
    ("eq_mid", "eq_mid", "EQ mid", TargetKind.CONTINUOUS),
    ("eq_high", "eq_high", "EQ high", TargetKind.CONTINUOUS),
    ("hp", "hp", "high-pass", TargetKind.CONTINUOUS),
    ("lp", "lp", "low-pass", TargetKind.CONTINUOUS),
    ("send_reverb", "send_reverb", "reverb send", TargetKind.CONTINUOUS),
    ("send_delay", "send_delay", "delay send", TargetKind.CONTINUOUS),
    ("mute", "mute", "mute", TargetKind.TOGGLE),
    ("solo", "solo", "solo", TargetKind.TOGGLE),
)
RETURN_PARTS: tuple[tuple[str, str], ...] = (
    ("reverb_size", "Reverb size"),
    ("reverb_damping", "Reverb damping"),
    ("reverb_wet", "Reverb return"),
    ("delay_beats", "Delay time"),
    ("delay_feedback", "Delay feedback"),
    ("delay_wet", "Delay return"),
)
TRANSPORT_LABELS = {
    "transport.play": "Play / pause",
    "transport.start": "Return to start",
    "transport.loop": "Loop",
    "transport.loop_section": "Loop this section",
    "transport.record": "Arm automation",
}
SHORT_MODES = {
    Mode.ABSOLUTE: "Absolute",
    Mode.TWOS_COMPLEMENT: "Relative (two's complement)",
    Mode.BINARY_OFFSET: "Relative (binary offset)",
    Mode.SIGN_MAGNITUDE: "Relative (sign and magnitude)",
}


@dataclass(frozen=True)
class Control:
    """A learnable control of the studio: its target id (app/midi.py), its name for people,
    what it does with a message, the widget that is right-clicked and moved, and for a trigger
    that is no click of that widget, what to run (Return to start on the play button)."""

    target: str
    label: str
    kind: TargetKind
    widget: QWidget
    run: Callable[[], None] | None = None


def studio_controls(window: MainWindow) -> dict[str, Control]:
    """Every learnable control of the window as it is now (the strips change with the track)."""
    controls: list[Control] = []
    for i, strip in enumerate(window.mixer.strips.values(), start=1):
        for suffix, attribute, label, kind in STRIP_PARTS:
            controls.append(
                Control(f"strip{i}.{suffix}", f"Strip {i} {label}", kind, getattr(strip, attribute))
            )
    controls.append(
        Control("master.fader", "Master fader", TargetKind.CONTINUOUS, window.mixer.master.fader)
    )
    for suffix, label in RETURN_PARTS:
        widget = getattr(window.mixer.returns, suffix)
        controls.append(Control(f"returns.{suffix}", label, TargetKind.CONTINUOUS, widget))
    t = window.transport
    controls += [
        Control("transport.play", "Play / pause", TargetKind.TRIGGER, t.play_button),
        Control(
            "transport.start",
            "Return to start",
            TargetKind.TRIGGER,
            t.play_button,
            run=lambda: _return_to_start(window),
        ),
        Control("transport.loop", "Loop", TargetKind.TOGGLE, t.loop_button),
        Control(
            "transport.loop_section", "Loop this section", TargetKind.TRIGGER, t.loop_section_button
        ),
        Control("transport.record", "Arm automation", TargetKind.TOGGLE, t.record_button),
    ]
    return {c.target: c for c in controls}


def _return_to_start(window: MainWindow) -> None:
    """Transport ▸ Return to start, as its key (Home) runs it: enabled state brought up to date
    first (the transport has no button of its own for it)."""
    window.menus.refresh()
    window.menus.to_start.trigger()


def _isolated(text: str) -> str:
    """A device's name (the device chose it) inside a sentence: its own bidi run (FSI…PDI), so
    a right-to-left or odd name never reorders the words around it."""
    return f"\u2068{text}\u2069"


def target_label(target: str, window: MainWindow | None = None) -> str:
    """A target's name for people, with the stem it is on the open track: "Strip 1 fader
    (Drums)". A target this version does not know is shown as it is stored."""
    if target in TRANSPORT_LABELS:
        return TRANSPORT_LABELS[target]
    if target == "master.fader":
        return "Master fader"
    returns = dict(RETURN_PARTS)
    if target.startswith("returns.") and target[8:] in returns:
        return returns[target[8:]]
    head, _, suffix = target.partition(".")
    labels = {part[0]: part[2] for part in STRIP_PARTS}
    if head.startswith("strip") and head[5:].isdigit() and suffix in labels:
        index = int(head[5:])
        label = f"Strip {index} {labels[suffix]}"
        strips = list(window.mixer.strips.values()) if window is not None else []
        if 0 < index <= len(strips):
            label += f" ({strips[index - 1].name.text().removesuffix(' ●')})"
        return label
    return target


def reads_as(binding: Binding) -> str:
    """How a binding's messages are read, for people."""
    if binding.button:
        return "Button"
    if binding.source is Source.CC14:
        return "Absolute, 14-bit"
    if binding.source is Source.PITCHWHEEL:
        return "Absolute, 14-bit (pitch bend)"
    if binding.source is Source.NOTE:
        return "Button"
    text = SHORT_MODES[binding.mode]
    return text if binding.chosen is not None else f"{text}, detected"


# -- the widgets' positions -----------------------------------------------------------------------


def position_of(widget: QWidget) -> float | None:
    """A fader's, slider's or knob's value as a fraction of its travel."""
    if isinstance(widget, Knob):
        return widget.position()
    if isinstance(widget, QAbstractSlider):
        span = widget.maximum() - widget.minimum()
        return (widget.value() - widget.minimum()) / span if span else 0.0
    return None


def set_position(widget: QWidget, position: float) -> None:
    """Move a control to `position` of its travel, as a drag would (its signal fires)."""
    if isinstance(widget, Knob):
        widget.set_position(position)
    elif isinstance(widget, QAbstractSlider):
        widget.setValue(round(widget.minimum() + position * (widget.maximum() - widget.minimum())))


def turn(widget: QWidget, ticks: int) -> None:
    """An encoder's ticks, as the arrow keys move the control."""
    if isinstance(widget, Knob):
        widget.turn(ticks)
    elif isinstance(widget, QAbstractSlider):
        widget.setValue(widget.value() + ticks * widget.singleStep())


# -- from rtmidi's thread to the GUI's ------------------------------------------------------------


class MidiQueue(QObject):
    """Messages from rtmidi's thread, waiting for the GUI thread. `put` never blocks or
    allocates beyond a deque node; `arrived` is emitted once per wake-up, not per message."""

    arrived = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: deque[tuple[str, mido.Message]] = deque()
        self._pending = False

    def put(self, port: str, msg: mido.Message) -> None:
        """NB: rtmidi's thread. The flag is cleared by `take` before it empties the deque, so a
        message appended meanwhile is either taken now or wakes the GUI again."""
        self._items.append((port, msg))
        if not self._pending:
            self._pending = True
            self.arrived.emit()

    def take(self) -> list[tuple[str, mido.Message]]:
        self._pending = False
        items = []
        while self._items:
            items.append(self._items.popleft())
        return items


# -- learning and playing -------------------------------------------------------------------------


class MidiLearn(QObject):
    """The studio's MIDI: learning (context menus, the hint, Esc), reading inputs into moves of
    the widgets, and the mappings file. `open_inputs` opens the computer's MIDI inputs (the app
    does; tests feed `receive` or open a JACK port of their own)."""

    changed = Signal()
    """The mappings or the inputs changed (the MIDI dialog shows them again)."""

    def __init__(self, window: MainWindow, store: MidiStore) -> None:
        super().__init__(window)
        self.window = window
        self.store = store
        self.maps: dict[str, MidiMap] = store.load()
        self.queue = MidiQueue(self)
        self.queue.arrived.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self.ports: MidiPorts | None = None
        self.controls: dict[str, Control] = {}
        self.learning: Control | None = None
        self._learner: Learner | None = None
        self._settle = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle.timeout.connect(self._settled)
        self._scan = QTimer(self, interval=SCAN_MS)
        self._scan.timeout.connect(self.rescan)
        self._last_move_at = float("-inf")
        self._last_was_press = False
        # Fader and knob moves read but not applied yet (see APPLY_S), by (device, target, kind).
        self._held: dict[tuple[str, str, str], tuple[MidiMap, Move]] = {}
        self._applied_at = float("-inf")
        self._apply_timer = QTimer(self, singleShot=True)
        self._apply_timer.timeout.connect(self._apply_held)
        self.menu: QMenu | None = None  # the open context menu (tests trigger its actions)
        self.dialog: QWidget | None = None
        window.trackOpened.connect(lambda _id: self.watch())
        self.watch()
        mixer_menu = window.menus.mixer_menu
        mixer_menu.addSeparator()
        self.devices_action = mixer_menu.addAction("MIDI c&ontrollers…", self.open_dialog)
        self.devices_action.setStatusTip("MIDI inputs and what their controls are mapped to")

    # -- inputs -----------------------------------------------------------------------------------

    def open_inputs(self, system: MidiSystem | None = None) -> None:
        """Open every MIDI input (of `system`, else the one this computer has) and keep looking
        for new ones."""
        if self.ports is None:
            self.ports = MidiPorts(self.queue.put, system)
        self.rescan()
        self._scan.start()

    def rescan(self) -> None:
        if self.ports is not None and self.ports.rescan():
            self.changed.emit()

    def close(self) -> None:
        """Close the inputs (the window closes): rtmidi stops calling back."""
        self._scan.stop()
        self._apply_timer.stop()
        self._held.clear()
        self.cancel(quiet=True)
        if self.ports is not None:
            self.ports.close()

    def inputs_text(self) -> str:
        """What Encore listens to, or plainly why nothing."""
        if self.ports is None:
            return "MIDI inputs are not open in this window."
        return self.ports.describe()

    def receive(self, port: str, msg: mido.Message) -> None:
        """A message from `port`, as rtmidi's callback delivers it (tests call this directly)."""
        self.queue.put(port, msg)

    # -- context menus ----------------------------------------------------------------------------

    def watch(self) -> None:
        """Every learnable widget gets the context menu (call again when the strips change)."""
        self.controls = studio_controls(self.window)
        for control in self.controls.values():
            control.widget.installEventFilter(self)
            control.widget.setContextMenuPolicy(Qt.ContextMenuPolicy.DefaultContextMenu)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.KeyPress and self.learning is not None:
            if isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_Escape:
                self.cancel()
                return True
        elif kind == QEvent.Type.ContextMenu and isinstance(event, QContextMenuEvent):
            mine = [c for c in self.controls.values() if c.widget is watched]
            if mine:
                self.show_menu(mine, event.globalPos())
                return True
        return False

    def menu_for(self, controls: list[Control]) -> QMenu:
        """Learn / Forget for each control of a widget, and a fader's or knob's reading."""
        menu = QMenu(self.window)
        menu.setObjectName("midiMenu")
        many = len(controls) > 1
        for control in controls:
            bound = self.bindings_of(control.target)
            title = menu.addAction(target_label(control.target, self.window))
            title.setEnabled(False)
            learn = menu.addAction(
                f"Learn MIDI for {control.label}…" if many else "Learn MIDI…",
                lambda c=control: self.learn(c),
            )
            learn.setObjectName("learn")
            learn.setStatusTip("Then move a control on your MIDI device (Esc cancels)")
            if bound:
                device, binding = bound[0]
                more = f" and {len(bound) - 1} more" if len(bound) > 1 else ""
                text = f"Forget MIDI ({binding.describe()} on {_isolated(device)}{more})"
            else:
                text = f"Forget MIDI for {control.label}" if many else "Forget MIDI"
            forget = menu.addAction(text, lambda c=control: self.forget(c.target))
            forget.setObjectName("forget")
            forget.setEnabled(bool(bound))
            cc_bindings = [b for _d, b in bound if b.source is Source.CC and not b.button]
            if control.kind is TargetKind.CONTINUOUS and cc_bindings:
                self._mode_menu(menu, control, cc_bindings[0])
            if many:
                menu.addSeparator()
        return menu

    def _mode_menu(self, menu: QMenu, control: Control, binding: Binding) -> None:
        """How the control's CC is read: as detected, or a mode picked here."""
        sub = menu.addMenu("Read the MIDI control as")
        group = QActionGroup(sub)
        auto = sub.addAction(f"Detected: {SHORT_MODES[binding.detected].lower()}")
        auto.setCheckable(True)
        auto.setChecked(binding.chosen is None)
        auto.triggered.connect(lambda: self.set_mode(control.target, None))
        group.addAction(auto)
        for mode, label in MODE_LABELS.items():
            action = sub.addAction(label)
            action.setCheckable(True)
            action.setChecked(binding.chosen is mode)
            action.triggered.connect(lambda _c=False, m=mode: self.set_mode(control.target, m))
            group.addAction(action)

    def show_menu(self, controls: list[Control], where) -> QMenu:
        self.menu = self.menu_for(controls)
        self.menu.popup(where)
        return self.menu

    def action(self, name: str) -> QAction:
        """The open context menu's action `name` ("learn", "forget"): for tests and scripts."""
        assert self.menu is not None
        return next(a for a in self.menu.actions() if a.objectName() == name)

    # -- mappings ---------------------------------------------------------------------------------

    def bindings_of(self, target: str) -> list[tuple[str, Binding]]:
        """(device, binding) for every device that has `target` mapped."""
        found = []
        for device, midi_map in sorted(self.maps.items()):
            binding = midi_map.get(target)
            if binding is not None:
                found.append((device, binding))
        return found

    def forget(self, target: str, device: str | None = None) -> None:
        """Unmap `target` (on `device`, else on every device)."""
        for name, midi_map in self.maps.items():
            if device is None or name == device:
                midi_map.forget(target)
        self._save()
        self._status(f"MIDI mapping of {target_label(target, self.window)} forgotten.")

    def forget_device(self, device: str) -> None:
        self.maps.pop(device, None)
        self._save()
        self._status(f"Every MIDI mapping of {_isolated(device)} forgotten.")

    def set_mode(self, target: str, mode: Mode | None) -> None:
        for midi_map in self.maps.values():
            midi_map.set_mode(target, mode)
        self._save()

    def _save(self) -> None:
        self.maps = {device: m for device, m in self.maps.items() if len(m)}
        try:
            self.store.save(self.maps)
        except OSError as exc:
            self._status(f"Could not save the MIDI mappings ({exc}); they last until you quit.")
        self.changed.emit()

    # -- learning ---------------------------------------------------------------------------------

    def learn(self, control: Control) -> None:
        """Wait for the next control moved on a device; Esc cancels."""
        self.cancel(quiet=True)
        self.learning = control
        self._learner = Learner(control.target, control.kind)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)  # Esc anywhere cancels
        what = "a fader or knob" if control.kind is TargetKind.CONTINUOUS else "a button or pad"
        hint = f"Learn MIDI for {target_label(control.target, self.window)}: move {what} on "
        hint += "your MIDI device… Esc to cancel."
        if self.ports is None or not self.ports.names:
            hint += " " + self.inputs_text()
        self.window.statusBar().showMessage(hint)

    def cancel(self, quiet: bool = False) -> None:
        if self.learning is None:
            return
        self.learning, self._learner = None, None
        self._settle.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        if not quiet:
            self._status("MIDI learn cancelled.")

    def _settled(self) -> None:
        if self._learner is not None and self._learner.device is not None:
            binding = self._learner.settle()
            if binding is not None:
                self._learnt(self._learner.device, binding)

    def _learnt(self, device: str, binding: Binding) -> None:
        control = self.learning
        self.cancel(quiet=True)
        self.maps.setdefault(device, MidiMap()).bind(binding)
        self._save()
        label = target_label(binding.target, self.window) if control else binding.target
        how = "" if binding.button else f", {reads_as(binding).lower()}"
        self._status(f"{label} ← {binding.describe()} on {_isolated(device)}{how}.")

    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)

    # -- reading ----------------------------------------------------------------------------------

    def _drain(self) -> None:
        """Everything rtmidi queued: learning takes what it needs, the rest moves controls."""
        batch: list[tuple[str, mido.Message]] = []
        for port, msg in self.queue.take():
            device = device_key(port)
            if self._learner is not None:
                binding = self._learner.feed(device, msg)
                if binding is not None:
                    self._learnt(device, binding)
                elif self._learner.device == device:
                    self._settle.start()
                continue
            batch.append((device, msg))
        by_device: dict[str, list[mido.Message]] = {}
        for device, msg in batch:
            by_device.setdefault(device, []).append(msg)
        for device, messages in by_device.items():
            midi_map = self.maps.get(device)
            if midi_map is None:
                continue
            for move in midi_map.read(messages, lambda t, d=device: self._current(t, d)):
                if move.action in ("set", "step"):
                    self._hold(device, midi_map, move)
                else:
                    self._apply(midi_map, [move])  # a press: at once
        if self._held and not self._apply_timer.isActive():
            wait = self._applied_at + APPLY_S - time.monotonic()
            if wait <= 0:
                self._apply_held()
            else:
                self._apply_timer.start(max(1, round(wait * 1000)))

    @property
    def busy(self) -> bool:
        """Messages or moves still on their way to the widgets (tests wait for none)."""
        return bool(self.queue._items or self._held)

    def _hold(self, device: str, midi_map: MidiMap, move: Move) -> None:
        """Keep the last position (or the sum of the ticks) until the next apply."""
        key = (device, move.target, move.action)
        held = self._held.get(key)
        if held is not None and move.action == "step":
            move = Move(move.target, "step", held[1].value + move.value)
        self._held[key] = (midi_map, move)

    def _apply_held(self) -> None:
        held, self._held = self._held, {}
        self._applied_at = time.monotonic()
        for midi_map, move in held.values():
            self._apply(midi_map, [move])

    def _current(self, target: str, device: str | None = None) -> float | None:
        """Where `target` is, or is about to be (a held move of `device`'s)."""
        held = self._held.get((device or "", target, "set"))
        if held is not None:
            return held[1].value
        control = self.controls.get(target)
        if control is None or not shiboken6.isValid(control.widget):
            return None
        return position_of(control.widget)

    def _apply(self, midi_map: MidiMap, moves: list[Move]) -> None:
        """Each move through the widget, as a hand on the mouse would make it."""
        undo = getattr(self.window, "remix_undo", None)
        for move in moves:
            control = self.controls.get(move.target)
            if move.action == "release" or control is None:
                continue  # a strip this track does not have; buttons act on press
            widget = control.widget
            if not shiboken6.isValid(widget) or not widget.isEnabled():
                continue  # no track open, a solo the artist forbids…
            now = time.monotonic()
            press = move.action == "press"
            if undo is not None and (
                press or self._last_was_press or now - self._last_move_at > WHEEL_BURST_S
            ):
                undo.end_gesture()  # a new MIDI gesture: a new undo step
            self._last_move_at, self._last_was_press = now, press
            if move.action == "set" and control.kind is TargetKind.CONTINUOUS:
                set_position(widget, move.value)
                position = position_of(widget)
                if position is not None:
                    midi_map.followed(move.target, position)
            elif move.action == "step" and control.kind is TargetKind.CONTINUOUS:
                turn(widget, int(move.value))
            elif press and control.run is not None:
                control.run()
            elif press and isinstance(widget, QAbstractButton):
                widget.click()

    # -- the dialog -------------------------------------------------------------------------------

    def open_dialog(self) -> QWidget:
        from ui.mididevices import MidiDevicesDialog  # the dialog needs this module

        self.rescan()
        self.dialog = MidiDevicesDialog(self, self.window)
        self.dialog.open()
        return self.dialog


def install_midi(
    window: MainWindow, midi_file: Path | None, open_inputs: bool = False
) -> MidiLearn:
    """MIDI learn on `window`, mappings in `midi_file` (None: kept in memory only)."""
    learn = MidiLearn(window, MidiStore(midi_file))
    if open_inputs:
        # Once the window is up: asking the system for its MIDI ports takes ~35 ms, which then
        # overlaps the catalog's first request instead of delaying the window (first launch).
        QTimer.singleShot(0, learn, learn.open_inputs)
    return learn
