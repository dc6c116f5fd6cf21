"""Qt fixtures the UI tests share: a task runner drained after each test, and the theme as
`encore` applies it (style sheet and palette), put back afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QToolTip

from ui.main import apply_theme
from ui.tasks import TaskRunner

__all__ = ["tasks", "themed"]


@pytest.fixture
def tasks(qapp) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    runner.wait(10000)


@pytest.fixture
def themed(qapp) -> Iterator[QApplication]:
    """The theme as `encore` applies it: the style sheet and the palette, on the application."""
    old_sheet, old_palette = qapp.styleSheet(), QPalette(qapp.palette())
    old_tips = QPalette(QToolTip.palette())
    apply_theme(qapp)
    yield qapp
    qapp.setStyleSheet(old_sheet)
    qapp.setPalette(old_palette)
    QToolTip.setPalette(old_tips)
