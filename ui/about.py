"""Help ▸ Keyboard shortcuts and Help ▸ About Encore.

The shortcut sheet is read from the window's own menu bar (every action that has a key), so it
cannot drift from what the keys really do; the few keys that belong to focused controls rather
than to actions (arrows on a knob, Tab) are listed after them.

About names Encore's own licence (Apache-2.0) and every component it ships with its licence:
the runtime Python packages, transitively, and the native libraries, from app/licences.py, the
same report the test command checks (tests/test_licences.py), so what a user is shown is what
was checked.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMenuBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.licences import PROJECT_LICENCE, licence_report, version_of

CONTROL_KEYS: list[tuple[str, str]] = [
    (
        "Tab / Shift+Tab",
        "Move between controls: the catalog, tempo and key, every strip's knobs, pan, fader, "
        "mute and solo",
    ),
    ("↑ ↓ ← →", "Turn the focused knob or move the focused slider (Shift: finer on knobs)"),
    ("Page Up / Page Down", "Bigger steps on the focused knob or slider"),
    ("Delete, Backspace or 0", "Reset the focused knob"),
    ("Alt + underlined letter", "Open a menu (File, Edit, Transport, Mixer, View, Help)"),
]
"""Keys that act on the focused control, not through a menu action."""


def app_version() -> str:
    """The installed version, else (a source checkout never installed) pyproject's."""
    installed = version_of("encore")
    return installed if installed != "?" else _source_version()


def _source_version() -> str:
    import tomllib
    from pathlib import Path

    with (Path(__file__).resolve().parents[1] / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def dependency_licences() -> list[tuple[str, str, str, str]]:
    """(component, version, licence, how it ships) for everything Encore ships."""
    return [
        (
            r.component.name,
            r.component.version,
            r.component.licence,
            "Python package" if r.component.via == "python" else r.component.via,
        )
        for r in licence_report()
    ]


def menu_shortcuts(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, action, keys) for every action in `bar`'s menus that has a key."""
    rows = []
    for top in bar.actions():
        menu = top.menu()
        if menu is None:
            continue
        for action in menu.actions():
            keys = action.shortcut()
            if action.isSeparator() or keys.isEmpty():
                continue
            rows.append(
                (
                    top.text().replace("&", ""),
                    action.text().replace("&", ""),
                    keys.toString(QKeySequence.SequenceFormat.NativeText),
                )
            )
    return rows


def _tree(headers: list[str]) -> QTreeWidget:
    tree = QTreeWidget()
    tree.setHeaderLabels(headers)
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)
    tree.setAlternatingRowColors(True)
    return tree


def _dialog(parent: QWidget | None, title: str) -> tuple[QDialog, QVBoxLayout]:
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    layout = QVBoxLayout(dialog)
    return dialog, layout


def _close_button(dialog: QDialog, layout: QVBoxLayout) -> None:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)


def shortcut_sheet(bar: QMenuBar, parent: QWidget | None = None) -> QDialog:
    """Every key, grouped by menu, then the keys of focused controls."""
    dialog, layout = _dialog(parent, "Keyboard shortcuts")
    dialog.setObjectName("shortcutSheet")
    intro = QLabel(
        "Single keys (Space, L, Home, M, S, [ and ]) work anywhere in the window except in a "
        "text box, where they are typed."
    )
    intro.setWordWrap(True)
    intro.setObjectName("hint")
    layout.addWidget(intro)
    tree = _tree(["Keys", "What"])
    tree.setRootIsDecorated(True)
    tree.setAccessibleName("Keyboard shortcuts")
    groups: dict[str, QTreeWidgetItem] = {}
    for menu, action, keys in menu_shortcuts(bar):
        if menu not in groups:
            groups[menu] = QTreeWidgetItem(tree, [menu, ""])
        QTreeWidgetItem(groups[menu], [keys, action])
    focused = QTreeWidgetItem(tree, ["Focused control", ""])
    for keys, what in CONTROL_KEYS:
        QTreeWidgetItem(focused, [keys, what])
    tree.expandAll()
    tree.setUniformRowHeights(False)
    tree.setWordWrap(True)
    tree.resizeColumnToContents(0)
    layout.addWidget(tree)
    _close_button(dialog, layout)
    dialog.resize(760, 560)
    return dialog


def about_dialog(parent: QWidget | None = None) -> QDialog:
    """The version, what Encore is, and the licences of the packages it ships."""
    dialog, layout = _dialog(parent, "About Encore")
    dialog.setObjectName("aboutDialog")
    title = QLabel(f"Encore {app_version()}")
    title.setObjectName("trackTitle")
    layout.addWidget(title)
    text = QLabel(
        "The Superfan remix studio: remix an artist's licensed stems and publish the remix "
        f"inside the platform, credited and paid.\n\nEncore is licensed under {PROJECT_LICENCE} "
        "(the LICENSE and NOTICE files). It ships these components, each under its own licence:"
    )
    text.setWordWrap(True)
    layout.addWidget(text)
    tree = _tree(["Component", "Version", "Licence", "Shipped as"])
    tree.setAccessibleName("Components and licences")
    for row in dependency_licences():
        QTreeWidgetItem(tree, list(row))
    for column in range(4):
        tree.resizeColumnToContents(column)
    layout.addWidget(tree)
    _close_button(dialog, layout)
    dialog.resize(760, 560)
    return dialog
