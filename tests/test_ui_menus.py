"""Menus and shortcuts (issue 11 item 3), on the real studio window with a track open: the menu
bar's commands, the single keys routed through its actions (typed in text boxes), the selected
stem that M, S and Reset strip act on, the undo hook, the shortcut sheet and About's licences,
and every control reachable from the keyboard with a name for screen readers."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QScrollBar,
    QTreeWidget,
    QWidget,
)

from app.licences import normalise, runtime_requirements
from tests.test_ui_transport_details import open_studio
from ui.knob import Knob
from ui.mainwindow import MainWindow

pytestmark = pytest.mark.ui


@pytest.fixture
def window(qtbot, platform, tmp_path):
    win, tasks = open_studio(qtbot, platform, tmp_path)
    qtbot.waitUntil(lambda: len(win.mixer.strips) >= 2, timeout=10000)
    yield win
    win.close()
    tasks.wait(5000)


def menu_items(window: MainWindow) -> dict[str, dict[str, str]]:
    """{menu: {item text: its keys}} as the menu bar shows them."""
    items: dict[str, dict[str, str]] = {}
    for top in window.menuBar().actions():
        menu = top.menu()
        window.menus.refresh()
        items[top.text().replace("&", "")] = {
            a.text().replace("&", ""): a.shortcut().toString()
            for a in menu.actions()
            if not a.isSeparator()
        }
    return items


def test_the_menu_bar_follows_desktop_conventions(window):
    items = menu_items(window)
    assert list(items) == ["File", "Edit", "Transport", "Mixer", "View", "Help"]
    assert items["File"]["Sign out"] == ""
    assert items["File"]["Quit"] == "Ctrl+Q"
    assert items["Edit"] == {"Nothing to undo": "Ctrl+Z", "Nothing to redo": "Ctrl+Shift+Z"}
    assert not window.menus.undo.isEnabled() and not window.menus.redo.isEnabled()
    transport = items["Transport"]
    assert transport["Play"] == "Space"
    assert transport["Return to start"] == "Home"
    assert transport["Loop"] == "L"
    assert "Loop this section" in transport and "Snap loop to bars" in transport
    first = next(iter(window.mixer.strips.values())).name.text()
    assert items["Mixer"][f"Mute {first}"] == "M"
    assert items["Mixer"][f"Solo {first}"] == "S"
    assert f"Reset {first} strip" in items["Mixer"]
    assert items["View"]["Zoom in"] == "Ctrl++" and items["View"]["Zoom out"] == "Ctrl+-"
    assert items["View"]["Zoom to fit"] == "Ctrl+0"
    assert set(items["Help"]) == {"Keyboard shortcuts", "About Encore"}


def test_view_zoom_halves_doubles_and_fits_the_timeline(qtbot, window):
    menus, view = window.menus, window.timeline
    qtbot.waitUntil(lambda: view.duration > 0, timeout=5000)
    menus.refresh()
    assert all(z.isEnabled() for z in (menus.zoom_in, menus.zoom_out, menus.zoom_fit))
    whole = view.duration
    assert (view.start, view.span) == (0.0, pytest.approx(whole))
    menus.zoom_in.trigger()
    assert view.span == pytest.approx(whole / 2)
    # The keys work wherever the focus is (here a fader, not the timeline), Ctrl+= as Ctrl++.
    fader = next(iter(window.mixer.strips.values())).fader
    fader.setFocus()
    ctrl = Qt.KeyboardModifier.ControlModifier
    QTest.keyClick(fader, Qt.Key.Key_Equal, ctrl)
    assert view.span == pytest.approx(whole / 4)
    QTest.keyClick(fader, Qt.Key.Key_Plus, ctrl)
    assert view.span == pytest.approx(whole / 8)
    QTest.keyClick(fader, Qt.Key.Key_Minus, ctrl)
    assert view.span == pytest.approx(whole / 4)
    menus.zoom_out.trigger()
    assert view.span == pytest.approx(whole / 2)
    view.scroll_by(whole)  # to the end, then the whole piece again
    assert view.start > 0.0
    QTest.keyClick(fader, Qt.Key.Key_0, ctrl)
    assert (view.start, view.span) == (0.0, pytest.approx(whole))
    assert fader.value() == 0  # the fader's own keys were not taken
    menus.zoom_out.trigger()  # never beyond the whole piece
    assert (view.start, view.span) == (0.0, pytest.approx(whole))


def test_home_returns_to_the_start_except_in_text_boxes(qtbot, window):
    window.engine.seek(30.0)
    fader = next(iter(window.mixer.strips.values())).fader
    fader.setFocus()
    qtbot.keyClick(fader, Qt.Key.Key_Home)
    assert window.engine.position_seconds == pytest.approx(0.0, abs=0.05)

    window.engine.seek(30.0)
    search = window.catalog.search
    search.setFocus()
    qtbot.keyClicks(search, "abc")
    qtbot.keyClick(search, Qt.Key.Key_Home)
    assert search.cursorPosition() == 0  # the text box's Home, not the transport's
    assert window.engine.position_seconds == pytest.approx(30.0, abs=0.05)
    window.menus.keys["start"].activated.emit()  # handed on to the box when it did not claim it
    assert window.engine.position_seconds == pytest.approx(30.0, abs=0.05)

    window.menus.to_start.trigger()  # the menu item itself, wherever the focus is
    assert window.engine.position_seconds == pytest.approx(0.0, abs=0.05)


def test_a_clicked_strip_is_selected_and_m_s_act_on_it(qtbot, window):
    strips = list(window.mixer.strips.values())
    first, second = strips[0], strips[1]
    assert window.selection.strip is first and first.property("selected")
    qtbot.mouseClick(second, Qt.MouseButton.LeftButton, pos=second.rect().center())
    assert window.selection.strip is second
    assert second.property("selected") and not first.property("selected")

    second.fader.setFocus()
    qtbot.keyClick(second.fader, Qt.Key.Key_M)
    assert second.mute.isChecked() and window.studio.document.stems[second.stem_id].mute
    assert not first.mute.isChecked()
    qtbot.keyClick(second.fader, Qt.Key.Key_S)
    assert second.solo.isChecked() and window.studio.document.stems[second.stem_id].solo

    # Tabbing into another strip's control selects that strip too; [ and ] walk the strips.
    first.pan.setFocus()
    assert window.selection.strip is first
    qtbot.keyClick(first.pan, Qt.Key.Key_BracketRight)
    assert window.selection.strip is second and QApplication.focusWidget() is second.fader
    qtbot.keyClick(second.fader, Qt.Key.Key_BracketLeft)
    assert window.selection.strip is first

    # In a text box M and S are letters.
    search = window.catalog.search
    search.setFocus()
    qtbot.keyClicks(search, "ms")
    assert search.text() == "ms" and not first.mute.isChecked()


def test_reset_strip_puts_every_control_back(qtbot, window):
    strip = next(iter(window.mixer.strips.values()))
    strip.fader.setValue(-120)
    strip.pan.setValue(40)
    strip.eq_low.setValue(6.0)
    strip.send_reverb.setValue(0.5)
    strip.mute.setChecked(True)
    window.selection.select(strip.stem_id)
    window.menus.reset_strip.trigger()
    settings = window.studio.document.stems[strip.stem_id]
    assert settings.gain_db == 0.0 and settings.pan == 0.0
    assert settings.eq_low_db == 0.0 and settings.send_reverb == 0.0
    assert not settings.mute and not strip.mute.isChecked()


def test_transport_items_run_the_buttons_and_show_their_state(qtbot, window):
    menus, transport = window.menus, window.transport
    menus.loop.trigger()
    assert transport.loop_button.isChecked() and window.engine.loop_seconds is not None
    menus.refresh()
    assert menus.loop.isChecked()
    menus.loop.trigger()
    assert not transport.loop_button.isChecked() and not menus.loop.isChecked()
    menus.snap.trigger()
    assert not transport.snap_button.isChecked() and not menus.snap.isChecked()
    menus.record.trigger()
    assert transport.record_button.isChecked() and menus.record.isChecked()
    menus.play.trigger()
    assert window.engine.playing or window._play_pending
    menus.play.trigger()
    assert not window.engine.playing and not window._play_pending
    menus.sections["remixes"].trigger()
    assert window.sections.current == "remixes"
    QTest.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.sections.current == "catalog"


def test_an_undo_stack_takes_over_edit_undo_and_redo(window):
    class Step(QUndoCommand):
        def __init__(self, log: list[str]) -> None:
            super().__init__("Bass fader")
            self.log = log

        def redo(self) -> None:
            self.log.append("do")

        def undo(self) -> None:
            self.log.append("undo")

    stack, log = QUndoStack(window), []
    window.set_undo_stack(stack)
    assert window.undo_stack is stack
    stack.push(Step(log))
    edit = [a for a in window.menus.edit.actions() if not a.isSeparator()]
    assert [a.text() for a in edit] == ["Undo Bass fader", "Redo"]
    assert edit[0].isEnabled() and edit[0].shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    edit[0].trigger()
    assert log == ["do", "undo"] and edit[1].text() == "Redo Bass fader"


def test_the_shortcut_sheet_and_about(qtbot, window):
    sheet = window.menus.open_shortcuts()
    qtbot.waitUntil(sheet.isVisible)
    tree = sheet.findChild(QTreeWidget)
    rows = {
        (group.child(j).text(0), group.child(j).text(1))
        for group in (tree.topLevelItem(i) for i in range(tree.topLevelItemCount()))
        for j in range(group.childCount())
    }
    assert ("Space", "Play") in rows and ("Home", "Return to start") in rows
    assert ("L", "Loop") in rows and ("Ctrl+Q", "Quit") in rows, rows
    sheet.close()

    about = window.menus.open_about()
    qtbot.waitUntil(about.isVisible)
    tree = about.findChild(QTreeWidget)
    listed = {
        tree.topLevelItem(i).text(0): tree.topLevelItem(i).text(2)
        for i in range(tree.topLevelItemCount())
    }
    required = runtime_requirements()
    assert "PySide6-Essentials" in required and "numpy" in required
    # every runtime dependency, what they bring (transitively) and the native components
    assert {normalise(r) for r in required} <= {normalise(n) for n in listed}
    assert "llvmlite" in listed and listed["Signalsmith Stretch"] == "MIT"
    assert all(licence and licence != "not installed" for licence in listed.values()), listed
    assert "LGPL" in listed["PySide6-Essentials"]
    assert any(
        "Apache-2.0" in label.text()
        for label in about.findChildren(QWidget)
        if hasattr(label, "text") and isinstance(label.text(), str)
    )
    assert any(
        "0.1" in label.text()
        for label in about.findChildren(QWidget)
        if hasattr(label, "text") and isinstance(label.text(), str)
    )
    about.close()


def test_every_control_is_reachable_by_keyboard_and_named(qtbot, window):
    """Focusable controls are reached with Tab; the buttons that take no focus (so Space keeps
    playing) each have a menu item; every control has a name a screen reader can say."""
    page = window.sections.pages.currentWidget()
    controls = [
        w
        for w in page.findChildren(QWidget)
        if isinstance(w, QAbstractButton | QAbstractSlider | QAbstractSpinBox | Knob)
        and not isinstance(w, QScrollBar)  # scrolled with the wheel or by focus, not tabbed to
        and w.isVisible()
        and w.isEnabled()
    ]
    unnamed = [w for w in controls if not w.accessibleName() and len(getattr(w, "text", str)()) < 3]
    assert not unnamed, [type(w).__name__ for w in unnamed]

    window.catalog.search.setFocus()
    reached = set()
    for _ in range(400):
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        focus = QApplication.focusWidget()
        reached.add(focus)
        if focus is window.catalog.search:
            break
    focusable = [w for w in controls if w.focusPolicy() & Qt.FocusPolicy.TabFocus]
    missed = [w.accessibleName() or type(w).__name__ for w in focusable if w not in reached]
    assert not missed

    window.menus.refresh()
    texts = {
        a.text().replace("&", "")
        for top in window.menuBar().actions()
        for a in top.menu().actions()
    }
    twins = {
        window.transport.play_button: "Play",
        window.transport.position: "Forward 5 seconds",
        window.transport.loop_button: "Loop",
        window.transport.loop_section_button: "Loop this section",
        window.transport.snap_button: "Snap loop to bars",
        window.transport.record_button: "Arm automation",
        window.transport.clear_automation_button: "Clear automation…",
        window.track_controls.tempo_reset: "Original tempo",
        window.track_controls.key_reset: "Original key",
        window.submit_button: "Submit remix…",
        window.audio_button: "Audio settings…",
        window.track_remixes.button: "Remixes of this track",
        window.sign_out: "Sign out",
    }
    unfocusable = [w for w in controls if not w.focusPolicy() & Qt.FocusPolicy.TabFocus]
    arrangement = window.arrangement
    for w in unfocusable:
        if arrangement.isAncestorOf(w):
            continue  # Transport ▸ Arrangement, rebuilt as it opens (below)
        assert w in twins, f"{type(w).__name__} {getattr(w, 'text', str)()!r} has no menu item"
        assert twins[w] in texts
    window.menus.arrangement.aboutToShow.emit()
    entries = [a.text() for a in window.menus.arrangement.actions() if not a.isSeparator()]
    assert "Add Intro" in entries and {"Remove section", "Original order"} <= set(entries)
