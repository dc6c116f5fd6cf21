"""Wires the transport's loop/record controls and the arrangement editor to the `Studio`.

Kept out of ui/mainwindow.py so the window only creates it and calls `track_opened`; every edit
goes through `Studio` (document + engine together; drafts autosave from its change listeners).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox

from app.studio import Studio
from app.studiosession import StudioSession
from ui.arrangement import ArrangementEditor
from ui.transport import TransportBar


class TransportController(QObject):
    def __init__(
        self,
        studio: Studio,
        transport: TransportBar,
        arrangement: ArrangementEditor,
        session: StudioSession | None = None,
    ) -> None:
        """`session`: whose `heard` route the position bar shows (the remix being listened to,
        else the track); without one, the studio's engine."""
        super().__init__(transport)
        self.studio, self.session = studio, session
        self.transport = transport
        self.arrangement = arrangement
        self._last_loop: tuple[float, float] | None = None
        self.confirm_clear: QMessageBox | None = None
        transport.loopToggled.connect(self._loop_toggled)
        transport.loopSectionRequested.connect(self._loop_section)
        transport.snapToggled.connect(self._snap_toggled)
        transport.recordToggled.connect(self._record_toggled)
        transport.clearAutomationRequested.connect(self._clear_automation)
        arrangement.arrangementChanged.connect(self._arrangement_changed)

    @property
    def snap(self) -> bool:
        return self.transport.snap_button.isChecked()

    def track_opened(self) -> None:
        """A track (and maybe a restored draft with an arrangement) is open: redraw."""
        self._last_loop = None
        self.transport.record_button.setChecked(False)  # a new track starts disarmed
        self.arrangement.set_sections(self.studio.sections())
        self.arrangement.show_arrangement(self.studio.arrangement_indices())
        self._show()

    def show_remix(self) -> None:
        """Redraw the arrangement lane and the loop from the Studio (after undo or redo): the
        loop as it is now becomes the one L turns back on."""
        self.arrangement.show_arrangement(self.studio.arrangement_indices())
        self._show()
        self._remember()

    def show_heard(self) -> None:
        """What is heard changed (listening began or ended): its length and loop."""
        self._show()

    def _show(self) -> None:
        heard = self.session.heard if self.session is not None else None
        if heard is not None:
            self.transport.set_duration(heard.duration_seconds)
            self.transport.show_loop(heard.loop_seconds)
            return
        engine = self.studio.engine
        self.transport.set_duration(engine.duration_frames / engine.sample_rate)
        self.transport.show_loop(engine.loop_seconds)

    def _resting(self) -> bool:
        """No remix open, or another remix is heard: the loop and automation of the fan's mix
        rest (the window disables their buttons while listening; this covers any other way in,
        so they never change a mix that cannot be heard)."""
        return self.studio.document is None or self.studio.listening

    def _loop_toggled(self, on: bool) -> None:
        if self._resting():
            if self.studio.listening:
                self._show()  # the button shows what is heard again: no loop
            return
        if not on:
            self.studio.clear_loop()
        elif self._last_loop is not None:
            self.studio.set_loop(*self._last_loop, snap=self.snap)
        else:
            self.studio.loop_current_section()
        self._remember()

    def _loop_section(self) -> None:
        if not self._resting():
            self.studio.loop_current_section()
            self._remember()

    def _snap_toggled(self, on: bool) -> None:
        loop = self.studio.engine.loop_seconds
        if on and loop is not None and not self._resting():
            self.studio.set_loop(*loop, snap=True)
            self._remember()

    def _record_toggled(self, on: bool) -> None:
        if not self._resting():
            self.studio.arm_automation(on)

    def _clear_automation(self) -> None:
        """Clear auto: deleting every recorded move is asked first (Cancel is the default)."""
        if self._resting():
            return
        if not self.studio.has_automation:
            return  # nothing recorded: nothing to clear, nothing to ask
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Clear automation",
            "Clear all automation of this remix? Every recorded fader, pan, mute and send move "
            "is deleted and the controls' own settings play again.",
            QMessageBox.StandardButton.NoButton,
            self.transport.window(),
        )
        clear = box.addButton("Clear", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        track_id = self.studio.document.track_id

        def answered(_result: int) -> None:
            self.confirm_clear = None
            doc = self.studio.document  # the box is window-modal: still the remix asked about
            if box.clickedButton() is clear and doc is not None and doc.track_id == track_id:
                self.studio.clear_automation()

        box.finished.connect(answered)
        self.confirm_clear = box  # the open question (tests answer it)
        box.open()

    def set_loop(self, start: float, end: float) -> None:
        """A loop drawn or moved elsewhere (the timeline): set as the transport's own controls set
        it (snapped to bars when Snap is on), shown on the transport, and remembered as the one L
        turns back on. Raises ValueError saying why (outside the piece, too short)."""
        if self._resting():
            return
        self.studio.set_loop(start, end, snap=self.snap)
        self._remember()

    def _arrangement_changed(self, indices: list[int]) -> None:
        if self._resting():
            return
        self.studio.set_arrangement(indices or None)
        self._last_loop = None
        self._show()

    def _remember(self) -> None:
        loop = self.studio.engine.loop_seconds
        if loop is not None:
            self._last_loop = loop
        self.transport.show_loop(loop)
