"""Mixer ▸ MIDI controllers…: the MIDI inputs Encore listens to (or plainly why none), each
device's mappings (control, MIDI message, how it is read), and forgetting them.

Learning happens on the controls themselves (right-click ▸ Learn MIDI, ui/midilearn.py); this
dialog is where a musician sees what is mapped and clears it, also for a device that is not
plugged in today.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.midi import device_key
from ui.midilearn import reads_as, target_label

if TYPE_CHECKING:
    from ui.midilearn import MidiLearn

DEVICE_ROLE = Qt.ItemDataRole.UserRole
TARGET_ROLE = Qt.ItemDataRole.UserRole + 1


class MidiDevicesDialog(QDialog):
    """`tree`: a row per device (connected or remembered), its mappings under it."""

    def __init__(self, midi: MidiLearn, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.midi = midi
        self.setWindowTitle("MIDI controllers")
        self.setMinimumSize(620, 380)
        intro = QLabel(
            "To map a control, right-click a fader, knob, pan, mute, solo or transport button "
            "in the studio, choose Learn MIDI and move the control on your device. Strip "
            "controls follow the strip's place: strip 1 is the first stem of every track."
        )
        intro.setObjectName("hint")
        intro.setWordWrap(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setObjectName("midiStatus")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Control", "MIDI message", "Read as"])
        self.tree.setRootIsDecorated(True)
        self.tree.setAccessibleName("MIDI devices and their mappings")
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.forget_button = QPushButton("Forget mapping")
        self.forget_button.setToolTip("Forget the selected mapping")
        self.forget_device_button = QPushButton("Forget device's mappings")
        self.forget_device_button.setToolTip("Forget every mapping of the selected device")
        close = QPushButton("Close")
        close.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.forget_button)
        buttons.addWidget(self.forget_device_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(12)
        layout.addWidget(intro)
        layout.addWidget(self.status)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        close.clicked.connect(self.accept)
        self.forget_button.clicked.connect(self._forget)
        self.forget_device_button.clicked.connect(self._forget_device)
        self.tree.itemSelectionChanged.connect(self._selected)
        midi.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Inputs and mappings as they are now (kept selection where it still exists)."""
        selected = self._selection()
        self.status.setText(self.midi.inputs_text())
        connected = {device_key(n) for n in self.midi.ports.names} if self.midi.ports else set()
        self.tree.clear()
        for device in sorted(connected | set(self.midi.maps)):
            midi_map = self.midi.maps.get(device)
            bindings = sorted(midi_map.bindings(), key=lambda b: b.target) if midi_map else []
            state = "connected" if device in connected else "not connected"
            count = f"{len(bindings)} mapped" if bindings else "nothing mapped yet"
            row = QTreeWidgetItem([f"{device}  ·  {state}, {count}"])
            row.setData(0, DEVICE_ROLE, device)
            self.tree.addTopLevelItem(row)
            row.setFirstColumnSpanned(True)
            for binding in bindings:
                child = QTreeWidgetItem(
                    [
                        target_label(binding.target, self.midi.window),
                        binding.describe(),
                        reads_as(binding),
                    ]
                )
                child.setData(0, DEVICE_ROLE, device)
                child.setData(0, TARGET_ROLE, binding.target)
                row.addChild(child)
                if (device, binding.target) == selected:
                    self.tree.setCurrentItem(child)
            row.setExpanded(True)
            if selected == (device, None):
                self.tree.setCurrentItem(row)
        if not self.tree.topLevelItemCount():
            empty = QTreeWidgetItem(["No MIDI device yet"])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(empty)
            empty.setFirstColumnSpanned(True)
        self._selected()

    def _selection(self) -> tuple[str, str | None] | None:
        item = self.tree.currentItem()
        if item is None or item.data(0, DEVICE_ROLE) is None:
            return None
        return item.data(0, DEVICE_ROLE), item.data(0, TARGET_ROLE)

    def _selected(self) -> None:
        selection = self._selection()
        has_mappings = selection is not None and selection[0] in self.midi.maps
        self.forget_button.setEnabled(selection is not None and selection[1] is not None)
        self.forget_device_button.setEnabled(has_mappings)

    def _forget(self) -> None:
        selection = self._selection()
        if selection is not None and selection[1] is not None:
            self.midi.forget(selection[1], device=selection[0])

    def _forget_device(self) -> None:
        selection = self._selection()
        if selection is not None:
            self.midi.forget_device(selection[0])
