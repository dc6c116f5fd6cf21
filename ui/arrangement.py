"""The arrangement editor: the track's sections as chips; click one to append it to the
arrangement lane, drag lane chips to reorder, Delete (or ×) removes, "Original order" clears.

Emits `arrangementChanged(list[int])`: section indices in play order ([] = as delivered). The
editor holds no document state of its own: `show` redraws it from the Studio's document.

Compact on purpose (~60 px: the chips' line and a one-chip-high lane): the timeline under it
draws the arrangement as blocks too, and at 1280×720 every pixel it does not take is the
timeline's. It never grows taller than that; a bigger window gives the room to the timeline
and the strips.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from core.contract import Section

INDEX = Qt.ItemDataRole.UserRole
LANE_HEIGHT = 32
"""The lane: one row of slot chips (ITEM_HEIGHT) in its frame and padding, and under them the
thin scroll bar (ui/theme.qss) of an arrangement longer than the lane is wide."""
ITEM_HEIGHT = 22


def _length(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


class ArrangementEditor(QWidget):
    arrangementChanged = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("arrangement")
        self._sections: list[Section] = []
        self.palette = QHBoxLayout()
        self.palette.setSpacing(6)
        title = QLabel("ARRANGEMENT")
        title.setObjectName("sectionTitle")
        self.summary = QLabel("Original order")
        self.summary.setObjectName("trackMeta")
        self.remove_button = QPushButton("×  Remove")
        self.remove_button.setObjectName("transportButton")
        self.remove_button.setToolTip("Remove the selected section from the arrangement (Delete)")
        self.clear_button = QPushButton("Original order")
        self.clear_button.setObjectName("transportButton")
        self.clear_button.setToolTip("Forget the arrangement and play the track as delivered")
        for b in (self.remove_button, self.clear_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        self.lane = QListWidget()
        self.lane.setObjectName("arrangementLane")
        self.lane.setAccessibleName("Arrangement")
        self.lane.setFlow(QListView.Flow.LeftToRight)
        self.lane.setWrapping(False)
        self.lane.setMovement(QListView.Movement.Snap)
        self.lane.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.lane.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.lane.setSpacing(3)
        self.lane.setFixedHeight(LANE_HEIGHT)
        self.lane.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.lane.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.lane.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.lane.viewport().installEventFilter(self)  # the wheel scrolls the lane sideways

        head = QHBoxLayout()
        head.setSpacing(10)
        head.addWidget(title)
        head.addWidget(self.summary)
        head.addStretch(1)
        head.addLayout(self.palette)
        lane_row = QHBoxLayout()
        lane_row.addWidget(self.lane, 1)
        lane_row.addWidget(self.remove_button)
        lane_row.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 2, 12, 0)
        layout.setSpacing(4)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        layout.addLayout(head)
        layout.addLayout(lane_row)

        self.lane.model().rowsMoved.connect(lambda *_: self._emit())
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(self.clear)
        QShortcut(QKeySequence.StandardKey.Delete, self.lane, self.remove_selected)
        self.set_sections([])

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A plain wheel over the lane scrolls it sideways: the lane is one row, and its scroll
        bar is a thin line, not something to aim at."""
        if (
            watched is self.lane.viewport()
            and isinstance(event, QWheelEvent)
            and event.type() == QEvent.Type.Wheel
        ):
            delta = event.angleDelta()
            step = delta.x() if abs(delta.x()) > abs(delta.y()) else delta.y()
            bar = self.lane.horizontalScrollBar()
            bar.setValue(bar.value() - step // 2)
            return True
        return super().eventFilter(watched, event)

    # -- building ----------------------------------------------------------------------------

    def set_sections(self, sections: list[Section]) -> None:
        """The open track's sections become the palette chips; the lane empties."""
        self._sections = list(sections)
        while self.palette.count():
            item = self.palette.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for i, sec in enumerate(self._sections):
            chip = QPushButton(f"+ {sec.name.capitalize()}")
            chip.setObjectName("sectionChip")
            chip.setToolTip(
                f"Append {sec.name} ({_length(sec.end - sec.start)}, from "
                f"{_length(sec.start)}) to the arrangement"
            )
            chip.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            chip.clicked.connect(lambda _=False, i=i: self.append(i))
            self.palette.addWidget(chip)
        self.show_arrangement([])
        self.setEnabled(bool(self._sections))

    def show_arrangement(self, indices: list[int]) -> None:
        """Redraw the lane from section indices (no signal)."""
        self.lane.clear()
        for i in indices:
            self._add_item(i)
        self._update_summary()

    def _add_item(self, i: int) -> None:
        sec = self._sections[i]
        item = QListWidgetItem(f"{sec.name.capitalize()}  ·  {_length(sec.end - sec.start)}")
        item.setData(INDEX, i)
        item.setSizeHint(QSize(max(96, 12 * len(sec.name) + 64), ITEM_HEIGHT))
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        item.setToolTip("Drag to reorder; Delete removes")
        self.lane.addItem(item)

    # -- edits -------------------------------------------------------------------------------

    def indices(self) -> list[int]:
        return [int(self.lane.item(r).data(INDEX)) for r in range(self.lane.count())]

    def append(self, i: int) -> None:
        self._add_item(i)
        self.lane.scrollToBottom()
        self._emit()

    def remove_selected(self) -> None:
        rows = sorted((self.lane.row(it) for it in self.lane.selectedItems()), reverse=True)
        if not rows and self.lane.count():
            rows = [self.lane.count() - 1]  # nothing selected: drop the last one
        for r in rows:
            self.lane.takeItem(r)
        self._emit()

    def clear(self) -> None:
        self.lane.clear()
        self._emit()

    def _emit(self) -> None:
        self._update_summary()
        self.arrangementChanged.emit(self.indices())

    def _update_summary(self) -> None:
        idx = self.indices()
        arranged = bool(idx)
        self.remove_button.setEnabled(arranged)
        self.clear_button.setEnabled(arranged)
        if not arranged:
            self.summary.setText("Original order")
            return
        total = sum(self._sections[i].end - self._sections[i].start for i in idx)
        n = len(idx)
        self.summary.setText(f"{n} section{'s' if n != 1 else ''} · {_length(total)}")
