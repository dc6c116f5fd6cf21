"""The selected stem: the strip the Mixer menu (and M, S, reset) acts on.

A mixer you drive from the keyboard needs a target that is not the keyboard focus itself: the
focus may sit on a knob of the strip (arrows turn it) while M mutes that strip. So the selection
follows the user's hand: a click anywhere on a strip (its background or any control) selects it,
and so does tabbing into one of its controls; `[` and `]` walk the strips. The selected strip is
drawn highlighted (`selected="true"` in ui/theme.qss) and said to assistive tech in its name.

Kept out of ui/mixer.py, whose strips stay plain widgets: this module only watches them.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

from ui.mixer import MixerPanel, StemStrip


class StripSelection(QObject):
    """Which `StemStrip` of `mixer` is selected; `changed` carries its stem id ("" for none)."""

    changed = Signal(str)

    def __init__(self, mixer: MixerPanel, scroll: QScrollArea | None = None) -> None:
        super().__init__(mixer)
        self.mixer = mixer
        self.scroll = scroll
        self._selected: str = ""
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.focusChanged.connect(self._focus_changed)

    @property
    def strip(self) -> StemStrip | None:
        return self.mixer.strips.get(self._selected)

    def adopt(self) -> None:
        """The mixer was rebuilt (a track opened): watch its strips, name their buttons for
        screen readers, and keep the selection on the same stem when it is still there."""
        for strip in self.mixer.strips.values():
            strip.installEventFilter(self)
            name = strip.name.text().removesuffix(" ●")
            strip.setAccessibleName(f"{name} strip")
            strip.mute.setAccessibleName(f"{name} mute")
            strip.solo.setAccessibleName(f"{name} solo")
        if self._selected not in self.mixer.strips:
            first = next(iter(self.mixer.strips), "")
            self.select(first)
        else:
            self._paint()

    def select(self, stem_id: str, *, focus: bool = False) -> None:
        """Select a stem's strip; `focus` also puts the keyboard on its fader (arrows move it)."""
        if stem_id and stem_id not in self.mixer.strips:
            return
        changed = stem_id != self._selected
        self._selected = stem_id
        self._paint()
        strip = self.strip
        if strip is not None and focus:
            strip.fader.setFocus()
        if strip is not None and self.scroll is not None:
            self.scroll.ensureWidgetVisible(strip, 8, 0)
        if changed:
            self.changed.emit(stem_id)

    def step(self, delta: int) -> None:
        """Select the next (`delta` 1) or previous (-1) strip, wrapping, focus on its fader."""
        ids = list(self.mixer.strips)
        if not ids:
            return
        index = ids.index(self._selected) if self._selected in ids else -delta
        self.select(ids[(index + delta) % len(ids)], focus=True)

    def _paint(self) -> None:
        for stem_id, strip in self.mixer.strips.items():
            on = stem_id == self._selected
            if bool(strip.property("selected")) != on:
                strip.setProperty("selected", on)
                strip.style().unpolish(strip)
                strip.style().polish(strip)
                strip.update()

    def _strip_of(self, widget: QWidget | None) -> StemStrip | None:
        while widget is not None:
            if isinstance(widget, StemStrip) and widget.stem_id in self.mixer.strips:
                return widget
            widget = widget.parentWidget()
        return None

    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        strip = self._strip_of(new)
        if strip is not None and strip.stem_id != self._selected:
            self.select(strip.stem_id)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # A press on the strip's own background (its controls take focus, which selects too).
        if event.type() == QEvent.Type.MouseButtonPress and isinstance(watched, StemStrip):
            self.select(watched.stem_id)
        return False
