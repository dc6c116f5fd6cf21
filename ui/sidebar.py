"""The sidebar column every tab shares: a heading, optional controls, a list and a hint line."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget, QVBoxLayout, QWidget


@dataclass
class SidebarList:
    list: QListWidget
    empty: QLabel  # says what to do when the list is empty


def sidebar_list(
    parent: QWidget, title: str, accessible_name: str, *above: QWidget, top_margin: int = 12
) -> SidebarList:
    """Lay out `parent` as a sidebar column; `above` go between the heading and the list."""
    heading = QLabel(title)
    heading.setObjectName("sectionTitle")
    items = QListWidget()
    items.setAccessibleName(accessible_name)
    items.setWordWrap(True)
    items.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    empty = QLabel("")
    empty.setObjectName("hint")
    empty.setWordWrap(True)
    layout = QVBoxLayout(parent)
    layout.setContentsMargins(14, top_margin, 14, 14)
    layout.addWidget(heading)
    for widget in above:
        layout.addWidget(widget)
    layout.addWidget(items, 1)
    layout.addWidget(empty)
    return SidebarList(items, empty)
