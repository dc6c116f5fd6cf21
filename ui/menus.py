"""The studio's menu bar: File, Edit, Transport, Mixer, View, Help.

Every command a button offers is also an action here, so the whole studio is operable from the
keyboard (Alt+letter opens a menu) and every key is written next to its command. The window's
buttons and keys run the same actions:

- single keys (Space, L, Home, M, S, [, ]) are window-wide `transport_key` shortcuts that step
  aside for text boxes (there the key is typed); they trigger the action, and the action shows
  the key in its menu (a display-only shortcut: its context is the menu itself, so it never
  competes with the window-wide one);
- keys with a modifier (Ctrl+Q, Ctrl+Return…) are ordinary action shortcuts, which text boxes
  leave alone unless they use the key themselves (Ctrl+Z in a text box undoes the typing).

Edit ▸ Undo / Redo are placeholders ("Nothing to undo") until an undo stack is installed with
`StudioMenus.install_undo_stack` (MainWindow.set_undo_stack): the stack's own actions, which name
the step ("Undo Bass fader"), then take their places with the platform's standard keys.

View ▸ Zoom in / out / to fit zoom the timeline (ui/timeline.py) as its own + - 0 keys do, from
anywhere in the window: the visible span halves, doubles, or shows the whole piece. Zoom in takes
Ctrl++ and Ctrl+= (the same key without Shift, as browsers and DAWs accept), Ctrl+- and Ctrl+0
the others; enabled while a track is open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import QApplication, QDialog, QMenu, QPushButton

from ui.about import about_dialog, shortcut_sheet
from ui.selection import StripSelection
from ui.signins import SignedInDevicesDialog
from ui.transport import transport_key

if TYPE_CHECKING:
    from ui.mainwindow import MainWindow

SKIP_S = 5.0
SECTION_LABELS = {"catalog": "&Catalog", "remixes": "My &remixes", "review": "Re&view"}


def redo_keys() -> list[QKeySequence]:
    """Ctrl+Shift+Z first (what every DAW and editor on Linux and Windows takes), then the
    platform's own (Ctrl+Y on Windows) so nobody's habit is refused."""
    first = QKeySequence("Ctrl+Shift+Z")
    own = QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)
    return [first, *(k for k in own if k != first)]


class StudioMenus(QObject):
    """Builds the menu bar on `window` and keeps each action's enabled/checked state in step
    with the studio (refreshed when a menu opens, a track opens, the selection moves, and before
    a single-key shortcut runs)."""

    def __init__(self, window: MainWindow, selection: StripSelection) -> None:
        super().__init__(window)
        self.window = window
        self.selection = selection
        self.keys: dict[str, QShortcut] = {}  # the window-wide single-key shortcuts
        self.dialog: QDialog | None = None  # the open shortcut sheet or About box
        self.undo_stack: QUndoStack | None = None
        bar = window.menuBar()
        bar.setAccessibleName("Menu bar")
        w, t = window, window.transport

        file = self._menu("&File")
        self.submit = self._action(file, "&Submit remix…", w.open_submit, "Ctrl+Return")
        self.audio = self._action(file, "&Audio settings…", w.open_audio_settings, "Ctrl+,")
        self.devices = self._action(file, "Signed-in &devices…", self._signed_in_devices)
        file.addSeparator()
        self.sign_out = self._action(file, "Sign &out", w.sign_out_and_close)
        self.quit = self._action(file, "&Quit", self._quit, "Ctrl+Q")

        self.edit = self._menu("&Edit")
        self.undo = self._action(self.edit, "Nothing to undo", lambda: None)
        self.redo = self._action(self.edit, "Nothing to redo", lambda: None)
        self.undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo.setShortcuts(redo_keys())
        self.undo.setEnabled(False)
        self.redo.setEnabled(False)

        transport = self._menu("&Transport")
        self.play = self._action(transport, "&Play", w.toggle_play)
        self._one_key(self.play, Qt.Key.Key_Space, "play")
        self.to_start = self._action(transport, "Return to &start", self._to_start)
        self._one_key(self.to_start, Qt.Key.Key_Home, "start")
        # The position bar takes no focus (Space must keep playing): these move the playhead.
        self.back = self._action(
            transport, "&Back 5 seconds", lambda: self._skip(-SKIP_S), "Ctrl+Left"
        )
        self.forward = self._action(
            transport, "&Forward 5 seconds", lambda: self._skip(SKIP_S), "Ctrl+Right"
        )
        transport.addSeparator()
        self.loop = self._toggle(transport, "&Loop", t.loop_button.click)
        self._one_key(self.loop, Qt.Key.Key_L, "loop")
        self.loop_section = self._action(
            transport, "Loop this s&ection", t.loop_section_button.click, "Shift+L"
        )
        self.snap = self._toggle(transport, "S&nap loop to bars", t.snap_button.click)
        transport.addSeparator()
        self.record = self._toggle(transport, "&Arm automation", t.record_button.click)
        self.clear_auto = self._action(
            transport, "&Clear automation…", t.clear_automation_button.click
        )
        # The arrangement's chips and buttons take no focus (Space must keep playing): here they
        # are reachable from the keyboard, rebuilt from the open track's sections.
        self.arrangement = transport.addMenu("A&rrangement")
        self.arrangement.aboutToShow.connect(self._fill_arrangement)
        transport.addSeparator()
        self.tempo_reset = self._action(
            transport, "Original &tempo", w.track_controls.tempo_reset.click
        )
        self.key_reset = self._action(transport, "Original &key", w.track_controls.key_reset.click)

        mixer = self.mixer_menu = self._menu("&Mixer")  # MIDI learn adds its item
        self.previous_stem = self._action(mixer, "&Previous stem", lambda: selection.step(-1))
        self._one_key(self.previous_stem, Qt.Key.Key_BracketLeft, "previous")
        self.next_stem = self._action(mixer, "&Next stem", lambda: selection.step(1))
        self._one_key(self.next_stem, Qt.Key.Key_BracketRight, "next")
        mixer.addSeparator()
        self.mute = self._toggle(mixer, "&Mute", self._mute)
        self._one_key(self.mute, Qt.Key.Key_M, "mute")
        self.solo = self._toggle(mixer, "&Solo", self._solo)
        self._one_key(self.solo, Qt.Key.Key_S, "solo")
        self.reset_strip = self._action(mixer, "&Reset strip", self._reset_strip, "Ctrl+Backspace")

        self.view = self._menu("&View")
        self.sections: dict[str, QAction] = {}
        for i, name in enumerate(w.sections.names, start=1):
            self.sections[name] = self._action(
                self.view,
                SECTION_LABELS.get(name, name.capitalize()),
                lambda n=name: w.sections.show_section(n),
                f"Ctrl+{i}",
            )
        self.view.addSeparator()
        timeline = w.timeline
        self.zoom_in = self._action(self.view, "Zoom &in", timeline.zoom_in, "Ctrl++")
        self.zoom_in.setShortcuts([QKeySequence("Ctrl++"), QKeySequence("Ctrl+=")])
        self.zoom_out = self._action(self.view, "Zoom &out", timeline.zoom_out, "Ctrl+-")
        self.zoom_fit = self._action(self.view, "Zoom to &fit", timeline.zoom_fit, "Ctrl+0")
        for zoom, tip in (
            (self.zoom_in, "Show half as much of the track on the timeline, in more detail"),
            (self.zoom_out, "Show twice as much of the track on the timeline"),
            (self.zoom_fit, "Show the whole track on the timeline"),
        ):
            zoom.setStatusTip(tip)
        self.view.addSeparator()
        self.full_screen = self._toggle(
            self.view, "F&ull screen", self._full_screen, QKeySequence.StandardKey.FullScreen
        )
        if window.diagnostics is not None:  # QA accounts: the dock's own toggle (Ctrl+Shift+D)
            self.view.addAction(window.diagnostics.toggleViewAction())

        help_menu = self._menu("&Help")
        self.shortcuts = self._action(help_menu, "&Keyboard shortcuts", self.open_shortcuts)
        self.shortcuts.setShortcuts(
            [QKeySequence("Ctrl+/"), QKeySequence(QKeySequence.StandardKey.HelpContents)]
        )
        self.about = self._action(help_menu, "&About Encore", self.open_about)
        self.about.setMenuRole(QAction.MenuRole.AboutRole)

        selection.changed.connect(lambda _id: self.refresh())
        window.trackOpened.connect(lambda _id: self.refresh())
        self.refresh()

    # -- building ---------------------------------------------------------------------------------

    def _menu(self, title: str) -> QMenu:
        menu = self.window.menuBar().addMenu(title)
        menu.aboutToShow.connect(self.refresh)
        return menu

    def _action(
        self,
        menu: QMenu,
        text: str,
        act: Callable[[], object],
        keys: str | QKeySequence.StandardKey | None = None,
    ) -> QAction:
        action = QAction(text, self.window)
        action.triggered.connect(lambda _checked=False: act())
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
            # On the window too, so the key works while the menu bar is hidden (full screen).
            self.window.addAction(action)
        menu.addAction(action)
        return action

    def _toggle(
        self,
        menu: QMenu,
        text: str,
        act: Callable[[], object],
        keys: str | QKeySequence.StandardKey | None = None,
    ) -> QAction:
        """A checkable action whose check mark mirrors a widget's state: `act` changes that
        state and `refresh` reads it back (so the mark is never the action's own guess)."""
        action = self._action(menu, text, act, keys)
        action.setCheckable(True)
        action.triggered.connect(lambda _checked=False: self.refresh())
        return action

    def _one_key(self, action: QAction, key: Qt.Key, name: str) -> None:
        """`key` alone runs `action` from anywhere in the window but a text box; the menu shows
        it (display only: the shortcut's context is the menu, see the module docstring)."""
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)

        def run() -> None:
            self.refresh()
            action.trigger()

        self.keys[name] = transport_key(self.window, key, run)

    # -- commands ---------------------------------------------------------------------------------

    def _signed_in_devices(self) -> None:
        """Where the account is signed in; sign a lost device out (its cache goes dark)."""
        self.dialog = SignedInDevicesDialog(self.window.client, self.window.tasks, self.window)
        self.dialog.open()

    def _quit(self) -> None:
        """Quit like closing the window (the draft is saved in closeEvent), then end the app."""
        if self.window.close():
            QApplication.quit()

    def _to_start(self) -> None:
        """Home: the start of what is heard (the remix being listened to, else the track)."""
        heard = self.window.session.heard
        if self.window.studio.track is not None and heard is not None:
            heard.seek(0.0)

    def _skip(self, seconds: float) -> None:
        """[ and ]: a jump in what is heard, kept inside it."""
        heard = self.window.session.heard
        if self.window.studio.track is None or heard is None:
            return
        end = heard.duration_seconds
        heard.seek(max(0.0, min(end, heard.position_seconds + seconds)))

    def _mute(self) -> None:
        strip = self.selection.strip
        if strip is not None:
            strip.mute.click()

    def _solo(self) -> None:
        strip = self.selection.strip
        if strip is not None and strip.solo.isEnabled():
            strip.solo.click()

    def _reset_strip(self) -> None:
        """The selected strip back to where a new remix starts: 0 dB, centre, flat, no filters,
        no sends, not muted or soloed. Each control changes as if moved by hand, so the edit
        reaches the remix (and an undo stack) the usual way."""
        strip = self.selection.strip
        if strip is None:
            return
        strip.fader.setValue(0)
        strip.pan.setValue(0)
        for knob in (strip.eq_low, strip.eq_mid, strip.eq_high, strip.hp, strip.lp):
            knob.reset()
        for knob in (strip.send_reverb, strip.send_delay):
            knob.reset()
        strip.mute.setChecked(False)
        strip.solo.setChecked(False)

    def _fill_arrangement(self) -> None:
        editor = self.window.arrangement
        self.arrangement.clear()
        chips = [editor.palette.itemAt(i).widget() for i in range(editor.palette.count())]
        for chip in chips:
            if isinstance(chip, QPushButton):
                name = chip.text().removeprefix("+").strip()
                add = self.arrangement.addAction(f"Add {name}", chip.click)
                add.setEnabled(chip.isEnabled())
        if chips:
            self.arrangement.addSeparator()
        remove = self.arrangement.addAction("Remove section", editor.remove_button.click)
        remove.setEnabled(editor.remove_button.isEnabled())
        clear = self.arrangement.addAction("Original order", editor.clear_button.click)
        clear.setEnabled(editor.clear_button.isEnabled())

    def _full_screen(self) -> None:
        window = self.window
        if window.isFullScreen():
            window.showNormal()
        else:
            window.showFullScreen()

    def open_shortcuts(self) -> QDialog:
        self.dialog = shortcut_sheet(self.window.menuBar(), self.window)
        self.dialog.open()
        return self.dialog

    def open_about(self) -> QDialog:
        self.dialog = about_dialog(self.window)
        self.dialog.open()
        return self.dialog

    # -- undo (someone installs a stack) ----------------------------------------------------------

    def install_undo_stack(self, stack: QUndoStack) -> None:
        """Replace the Undo/Redo placeholders with `stack`'s own actions ("Undo Bass fader")."""
        self.undo_stack = stack
        undo = stack.createUndoAction(self.window, "Undo")
        redo = stack.createRedoAction(self.window, "Redo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo.setShortcuts(redo_keys())
        for old, new in ((self.undo, undo), (self.redo, redo)):
            self.edit.insertAction(old, new)
            self.edit.removeAction(old)
            self.window.addAction(new)
            old.deleteLater()
        self.undo, self.redo = undo, redo

    # -- state ------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Enabled and checked states (and the Mixer's stem name) from the widgets they run."""
        w, t = self.window, self.window.transport
        playable = t.play_button.isEnabled()
        self.play.setText("&Pause" if w.engine.playing else "&Play")
        for action, button in (
            (self.play, t.play_button),
            (self.loop, t.loop_button),
            (self.loop_section, t.loop_section_button),
            (self.snap, t.snap_button),
            (self.record, t.record_button),
            (self.clear_auto, t.clear_automation_button),
            (self.submit, w.submit_button),
            (self.tempo_reset, w.track_controls.tempo_reset),
            (self.key_reset, w.track_controls.key_reset),
        ):
            action.setEnabled(button.isEnabled() and not button.isHidden())
            if action.isCheckable():
                action.setChecked(button.isChecked())
        self.tempo_reset.setEnabled(self.tempo_reset.isEnabled() and w.track_controls.isEnabled())
        self.key_reset.setEnabled(self.key_reset.isEnabled() and w.track_controls.isEnabled())
        self.to_start.setEnabled(playable)
        self.back.setEnabled(playable)
        self.forward.setEnabled(playable)
        self.audio.setEnabled(w.output is not None)
        # The timeline of an open track (not the upgrade panel standing in for a locked one).
        zoomable = w.studio.track is not None and not w.timeline.isHidden()
        for zoom in (self.zoom_in, self.zoom_out, self.zoom_fit):
            zoom.setEnabled(zoomable)
        strip = self.selection.strip
        name = strip.name.text().removesuffix(" ●") if strip is not None else ""
        self.mute.setText(f"&Mute {name}".rstrip())
        self.solo.setText(f"&Solo {name}".rstrip())
        self.reset_strip.setText(f"&Reset {name} strip" if name else "&Reset strip")
        self.mute.setEnabled(strip is not None)
        self.mute.setChecked(strip is not None and strip.mute.isChecked())
        self.solo.setEnabled(strip is not None and strip.solo.isEnabled())
        self.solo.setChecked(strip is not None and strip.solo.isChecked())
        self.reset_strip.setEnabled(strip is not None)
        many = len(w.mixer.strips) > 0
        self.previous_stem.setEnabled(many)
        self.next_stem.setEnabled(many)
        self.full_screen.setChecked(w.isFullScreen())
