"""The studio window's size, place, docks and splitters, remembered between starts.

A musician arranges the window once (the sidebar narrower, the window on the second screen) and
expects it that way next time. Kept in an INI file (QSettings) the caller names, under Encore's
data dir: readable, deletable to get the defaults back, and never the Qt-wide default location,
so tests and a second `--data-dir` keep their own. With no file (tests, scripts) nothing is
remembered and the window opens at `initial_geometry`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect, QSettings, QSize
from PySide6.QtWidgets import QMainWindow, QSplitter

PREFERRED = QSize(1440, 900)
"""The size the studio is designed for; a smaller screen gets what it has (see below)."""

TITLE_BAR = 32
"""Height kept free for the window manager's title bar when the screen is short: the rectangle
set before the window is shown is its inside, without the frame."""


def initial_geometry(available: QRect, minimum: QSize, preferred: QSize = PREFERRED) -> QRect:
    """The first window's rectangle: the preferred size, shrunk to the screen's free area
    (`available`, without panels and docks, less a title bar) but never below `minimum`,
    centred on it. A 1280×720 screen gets all of its width and height."""
    room = QSize(available.width(), available.height() - TITLE_BAR)
    width = max(minimum.width(), min(preferred.width(), room.width()))
    height = max(minimum.height(), min(preferred.height(), room.height()))
    rect = QRect(0, 0, width, height)
    rect.moveCenter(available.center())
    rect.moveTop(max(available.top() + TITLE_BAR, rect.top()))
    return rect


class WindowState:
    """Saves and restores a main window's geometry, dock state and named splitters."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def _settings(self) -> QSettings | None:
        if self.path is None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return QSettings(str(self.path), QSettings.Format.IniFormat)

    def restore(self, window: QMainWindow, splitters: dict[str, QSplitter]) -> bool:
        """Put back what was saved; False when there was nothing (first start, or no file)."""
        settings = self._settings()
        if settings is None:
            return False
        geometry = settings.value("window/geometry")
        restored = bool(geometry) and window.restoreGeometry(geometry)
        state = settings.value("window/state")
        if state:
            window.restoreState(state)
        for name, splitter in splitters.items():
            sizes = settings.value(f"splitters/{name}")
            if sizes:
                splitter.restoreState(sizes)
        if restored:
            fit_on_screen(window)
        return restored

    def save(self, window: QMainWindow, splitters: dict[str, QSplitter]) -> None:
        settings = self._settings()
        if settings is None:
            return
        settings.setValue("window/geometry", window.saveGeometry())
        settings.setValue("window/state", window.saveState())
        for name, splitter in splitters.items():
            settings.setValue(f"splitters/{name}", splitter.saveState())
        settings.sync()


def fit_on_screen(window: QMainWindow) -> None:
    """A remembered size larger than today's screen (the 4K monitor is unplugged) shrinks to it."""
    screen = window.screen()
    if screen is None or window.isMaximized() or window.isFullScreen():
        return
    available = screen.availableGeometry()
    frame = window.frameGeometry()
    if available.contains(frame):
        return
    width = max(window.minimumSizeHint().width(), min(window.width(), available.width()))
    height = max(window.minimumSizeHint().height(), min(window.height(), available.height()))
    window.resize(width, height)
    rect = window.frameGeometry()
    rect.moveLeft(max(available.left(), min(rect.left(), available.right() - rect.width())))
    rect.moveTop(max(available.top(), min(rect.top(), available.bottom() - rect.height())))
    window.move(rect.topLeft())
