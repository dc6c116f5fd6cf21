"""Undo and redo for every edit of the remix (issue 11 item 2), on a `QUndoStack`.

Why snapshots rather than a command per setter: a remix is edited through a dozen `Studio`
setters (faders, knobs, pan, mute/solo, tempo/key, returns, master, arrangement, automation
recording and clearing) and more are coming (a timeline). Each step keeps the remix as it was
before and after the edit (a `RemixDocument` is a small pydantic model; the loop, a practice aid
outside the document, rides along), so one path undoes any kind of edit: `Studio.apply_document`
puts the document in the engine (drafts autosave from its change listeners), the loop is set
again, and the widgets show it without emitting (so undoing never makes a new edit or step).
The step is named after what changed ("Undo Bass fader").

Gestures: every edit made during one input gesture is one step. A gesture starts at a mouse
press, a key press (auto-repeat continues it) or a wheel notch that is not part of a burst
(notches less than WHEEL_BURST_S apart), and lasts until the next one starts: a fader drag, a
knob drag, a wheel burst, an arrow key held down, Reset strip (one key, or one menu click) are
each one step. Recorded and cleared automation are steps of their own (the pass is written by
the UI timer, not by a gesture), never merged with the moves around them.

Title, description and AI declaration (the Submit dialog's, with its own text undo) are not
undone: a step keeps whatever they are when it is undone.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QKeyEvent, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QApplication, QWidget

from core.contract import RemixDocument, StemSettings

if TYPE_CHECKING:
    from app.streaming import TrackStream
    from ui.mainwindow import MainWindow

Loop = tuple[float, float] | None

UNDO_LIMIT = 500
"""Steps kept (a step is two small documents; with a full automation lane some tens of kB)."""
WHEEL_BURST_S = 0.4
"""Wheel notches closer together than this are one gesture (one step)."""
MERGE_ID = 0x11_02
"""QUndoCommand.id of the steps that may merge (same gesture: see RemixStep.mergeWith)."""

NOT_UNDONE = {"title", "description", "ai"}
"""Document fields that undo leaves as they are (edited in the Submit dialog, not the mix)."""

STEM_LABELS = {
    "gain_db": "fader",
    "pan": "pan",
    "eq_low_db": "EQ low",
    "eq_mid_db": "EQ mid",
    "eq_high_db": "EQ high",
    "hp_hz": "high-pass",
    "lp_hz": "low-pass",
    "send_reverb": "reverb send",
    "send_delay": "delay send",
}
BUS_LABELS = {
    ("reverb", "size"): "Reverb size",
    ("reverb", "damping"): "Reverb damping",
    ("reverb", "wet"): "Reverb return",
    ("delay", "beats"): "Delay time",
    ("delay", "feedback"): "Delay feedback",
    ("delay", "wet"): "Delay return",
}

_STARTS = {
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseButtonDblClick,
    QEvent.Type.TouchBegin,
    QEvent.Type.TabletPress,
}
_KEYS = {QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride}


class RemixState:
    """The undoable remix at one moment: the document (a private deep copy) and the loop."""

    def __init__(self, document: RemixDocument, loop: Loop) -> None:
        self.document = document.model_copy(deep=True)
        self.loop = loop
        self._key = (document.model_dump(exclude=NOT_UNDONE), loop)

    def same(self, other: RemixState) -> bool:
        return self._key == other._key


def describe(before: RemixState, after: RemixState, names: dict[str, str]) -> str:
    """What a step changed, for the Edit menu ("Bass fader", "Mute Drums", "Tempo", …)."""
    a, b = before.document, after.document
    if a.inspired_by != b.inspired_by:  # a fork replaced the whole remix (ui/trackremixes.py)
        return "Remix this remix" if b.inspired_by else "Remix from the track"
    if a.automation != b.automation:
        if not b.automation:
            return "Clear automation"
        old = {(x.stem, x.param): x.points for x in a.automation}
        new = {(x.stem, x.param): x.points for x in b.automation}
        changed = [k for k in old.keys() | new.keys() if old.get(k) != new.get(k)]
        if len(changed) == 1:
            stem, param = changed[0]
            label = STEM_LABELS.get(param, param)
            return f"Record {names.get(stem, stem)} {label} automation"
        return "Record automation"
    parts: list[tuple[str, str]] = []  # (group, name)
    for stem_id in [*b.stems, *(k for k in a.stems if k not in b.stems)]:
        s0, s1 = a.stems.get(stem_id, StemSettings()), b.stems.get(stem_id, StemSettings())
        name = names.get(stem_id, stem_id)
        if s0.mute != s1.mute:
            parts.append((stem_id, f"{'Mute' if s1.mute else 'Unmute'} {name}"))
        if s0.solo != s1.solo:
            parts.append((stem_id, f"{'Solo' if s1.solo else 'Unsolo'} {name}"))
        for field, label in STEM_LABELS.items():
            if getattr(s0, field) != getattr(s1, field):
                parts.append((stem_id, f"{name} {label}"))
    if a.master_gain_db != b.master_gain_db:
        parts.append(("master", "Master fader"))
    for (bus, field), label in BUS_LABELS.items():
        if getattr(getattr(a, bus), field) != getattr(getattr(b, bus), field):
            parts.append((bus, label))
    if a.tempo_ratio != b.tempo_ratio:
        parts.append(("tempo", "Tempo"))
    if a.key_shift != b.key_shift:
        parts.append(("key", "Key"))
    if a.arrangement != b.arrangement:
        parts.append(("arrangement", "Arrangement" if b.arrangement else "Original order"))
    if before.loop != after.loop and a.arrangement == b.arrangement:  # a new order ends a loop
        loop = "Loop off" if after.loop is None else "Loop on" if before.loop is None else "Loop"
        parts.append(("loop", loop))
    if len(parts) == 1:
        return parts[0][1]
    groups = {group for group, _ in parts}
    if len(groups) == 1:
        group = groups.pop()
        return f"{names[group]} strip" if group in names else group.capitalize()
    return f"{len(parts)} changes" if parts else "Change"


class RemixStep(QUndoCommand):
    """One step: the remix before and after. Pushed after the edit is made, so its first
    `redo` (QUndoStack.push calls it) does nothing."""

    def __init__(
        self, undo: RemixUndo, before: RemixState, after: RemixState, gesture: int, merge: bool
    ) -> None:
        super().__init__(undo.describe(before, after))
        self._undo, self.before, self.after = undo, before, after
        self.gesture, self.merge = gesture, merge
        self._done = True

    def id(self) -> int:
        return MERGE_ID if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """The same gesture goes on: one step, named by all it changed; a drag that ends where
        it started leaves no step (obsolete)."""
        if not isinstance(other, RemixStep) or not other.merge or other.gesture != self.gesture:
            return False
        self.after = other.after
        self.setText(self._undo.describe(self.before, self.after))
        self.setObsolete(self.before.same(self.after))
        return True

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self._undo.apply(self.after)

    def undo(self) -> None:
        self._undo.apply(self.before)


class RemixUndo(QObject):
    """The open remix's undo stack: records each edit `Studio` reports, applies steps back to
    the studio, the engine and the window's widgets. Emptied when a track opens (a restored
    draft starts with nothing to undo) and at sign-out."""

    applied = Signal()
    """After a step was undone or redone (the document, engine and strips show it)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.studio = window.studio
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(UNDO_LIMIT)
        self._track: TrackStream | None = None
        self._state: RemixState | None = None
        self._applying = False
        self._gesture = 0
        self._wheel_at = float("-inf")
        self._wheel_widget: QWidget | None = None
        self.studio.on_change(lambda _doc: self.changed())
        self.studio.on_loop_change(self.changed)
        window.trackOpened.connect(lambda _id: self.clear())
        window.signedOut.connect(self.clear)
        app = QApplication.instance()
        if app is not None:  # ~1 µs per event of the application: well under 1 % of a core
            app.installEventFilter(self)
        window.set_undo_stack(self.stack)  # Edit ▸ Undo / Redo are the stack's actions now
        self.stack.undoTextChanged.connect(self._name_actions)
        self.stack.redoTextChanged.connect(self._name_actions)
        self._name_actions()

    def _name_actions(self) -> None:
        """With nothing to undo (redo) the action says so, as the menu did before a stack was
        installed, rather than a bare "Undo". Runs after the actions' own update (connected
        later to the same signals)."""
        menus = self.window.menus
        if menus.undo_stack is not self.stack:
            return  # another stack took the menu over
        if not self.stack.canUndo():
            menus.undo.setText("Nothing to undo")
        if not self.stack.canRedo():
            menus.redo.setText("Nothing to redo")

    # -- recording --------------------------------------------------------------------------------

    def clear(self) -> None:
        """Nothing to undo: the remix as it is now is where undo stops."""
        self.stack.clear()
        self._track, self._state = None, None
        self.changed()

    def end_gesture(self) -> None:
        """The next edit starts a new step (input does this by itself: see the module doc)."""
        self._gesture += 1

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in _STARTS:
            self._gesture += 1
        elif kind in _KEYS:
            if isinstance(event, QKeyEvent) and not event.isAutoRepeat():
                self._gesture += 1
        elif kind == QEvent.Type.Wheel:
            # The window's handle sees the notch first, then the widget under the pointer: a
            # pause, or the wheel over another control, starts a new gesture.
            now = time.monotonic()
            if now - self._wheel_at > WHEEL_BURST_S:
                self._gesture += 1
            self._wheel_at = now
            if isinstance(watched, QWidget) and watched is not self._wheel_widget:
                self._gesture += 1
                self._wheel_widget = watched
        return False

    def _capture(self) -> RemixState | None:
        doc = self.studio.document
        if doc is None or self.studio.track is None:
            return None
        return RemixState(doc, self.studio.engine.loop_seconds)

    def changed(self) -> None:
        """An edit was made (Studio's change or loop listener): push it, or merge it into the
        step of the gesture it belongs to."""
        if self._applying:
            return
        state = self._capture()
        if state is None or self.studio.track is not self._track or self._state is None:
            self._track = self.studio.track if state is not None else None
            self._state = state  # a track opened (or closed): where undo stops
            return
        before, self._state = self._state, state
        if before.same(state):
            return  # nothing undoable changed (a title, a push of the same remix)
        merge = before.document.automation == state.document.automation
        self.stack.push(RemixStep(self, before, state, self._gesture, merge))

    def describe(self, before: RemixState, after: RemixState) -> str:
        track = self.studio.track
        names = {s.id: s.name for s in track.stems} if track is not None else {}
        return describe(before, after, names)

    # -- applying ---------------------------------------------------------------------------------

    def apply(self, state: RemixState) -> None:
        """Make `state` the remix: document and engine (Studio), loop, then the widgets."""
        studio = self.studio
        if studio.document is None or studio.track is None or studio.track is not self._track:
            return  # the remix it belongs to is closed (the stack is about to be cleared)
        current = studio.document
        # Undoing a fork gives the whole remix back, its title and declaration too.
        keep = NOT_UNDONE if state.document.inspired_by == current.inspired_by else set()
        doc = state.document.model_copy(update={k: getattr(current, k) for k in keep})
        self._applying = True
        try:
            studio.apply_document(doc)
            if studio.engine.loop_seconds != state.loop:
                if state.loop is None:
                    studio.clear_loop()
                else:
                    try:
                        studio.set_loop(*state.loop)
                    except ValueError:  # no longer fits the piece
                        studio.clear_loop()
            self.show_remix()
        finally:
            self._applying = False
        self._state = self._capture()
        self._gesture += 1  # what comes next is a new step, whatever input made it
        self.applied.emit()

    def show_remix(self) -> None:
        """The widgets show the studio's remix, quietly (no signal: no new edit). Also after a
        whole remix was put in at once (a fork, ui/trackremixes.py)."""
        w, doc = self.window, self.studio.document
        assert doc is not None
        for stem_id, strip in w.mixer.strips.items():
            strip.show_all(doc.stems.get(stem_id, StemSettings()))
        w.mixer.master.show_gain(doc.master_gain_db)
        w.mixer.returns.show_settings(doc.reverb, doc.delay)
        w.track_controls.show_values(doc.tempo_ratio, doc.key_shift)
        w.transport_ctl.show_remix()
        w.menus.refresh()
