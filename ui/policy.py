"""The artist's rights-policy editor for one track (PUT /v1/tracks/{id}/policy).

Every `RightsPolicy` field has a control. Ranges the model checks locally (min above max) are
reported in words before anything is sent, and so is a policy that allows no stem; whatever else
the platform refuses comes back as its 422 message, shown as is: it names the rule and says what
to do.
"""

from __future__ import annotations

from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.client import PlatformClient
from core.contract import RightsPolicy, TrackDetail
from core.text import isolate
from ui.remixes import describe, restyle
from ui.tasks import TaskRunner


def _range_row(low: QWidget, high: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(low)
    to = QLabel("to")
    to.setObjectName("hint")
    row.addWidget(to)
    row.addWidget(high)
    row.addStretch(1)
    return row


class PolicyDialog(QDialog):
    def __init__(
        self, detail: TrackDetail, client: PlatformClient, tasks: TaskRunner, parent=None
    ) -> None:
        super().__init__(parent)
        self.detail, self.client, self.tasks = detail, client, tasks
        self.saved: RightsPolicy | None = None
        self.setWindowTitle(f"Remix policy — {isolate(detail.title)}")
        self.setMinimumWidth(560)
        policy = detail.policy

        self.opted_in = QCheckBox("Open this track to fan remixes")
        self.opted_in.setChecked(policy.opted_in)
        self.requires_approval = QCheckBox("I approve each remix before it is published")
        self.requires_approval.setChecked(policy.requires_approval)

        stems = QGridLayout()
        stems.setHorizontalSpacing(18)
        stems.setVerticalSpacing(6)
        for col, text in enumerate(("Stem", "Fans may use", "Forbid solo")):
            head = QLabel(text)
            head.setObjectName("fieldLabel")
            stems.addWidget(head, 0, col)
        self.allowed: dict[str, QCheckBox] = {}
        self.solo_forbidden: dict[str, QCheckBox] = {}
        for row, stem in enumerate(detail.stems, start=1):
            stems.addWidget(QLabel(stem.name), row, 0)
            allowed = QCheckBox()
            allowed.setAccessibleName(f"Fans may use {stem.name}")
            allowed.setChecked(policy.allowed_stems is None or stem.id in policy.allowed_stems)
            forbid = QCheckBox()
            forbid.setAccessibleName(f"Forbid solo of {stem.name}")
            forbid.setChecked(stem.id in policy.solo_forbidden_stems)
            for box in (allowed, forbid):
                box.setMinimumHeight(24)  # the form would squeeze the rows below the indicator
            stems.addWidget(allowed, row, 1, Qt.AlignmentFlag.AlignHCenter)
            stems.addWidget(forbid, row, 2, Qt.AlignmentFlag.AlignHCenter)
            self.allowed[stem.id], self.solo_forbidden[stem.id] = allowed, forbid

        self.tempo_min = self._double(0.26, 3.99, 0.05, 2, policy.tempo_ratio_min, "×")
        self.tempo_max = self._double(0.26, 3.99, 0.05, 2, policy.tempo_ratio_max, "×")
        self.key_min = self._int(-12, 12, policy.key_shift_min, " st")
        self.key_max = self._int(-12, 12, policy.key_shift_max, " st")
        self.max_length = self._double(1.0, 3600.0, 10.0, 0, policy.max_length_s, " s")
        self.min_balance = self._double(0.0, 24.0, 0.5, 1, policy.min_balance_change_db, " dB")
        self.creator_share = self._double(0.0, 50.0, 1.0, 1, policy.creator_share * 100, " %")

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setVerticalSpacing(10)
        form.addRow("", self.opted_in)
        form.addRow("Stems", stems)
        form.addRow("Tempo ratio", _range_row(self.tempo_min, self.tempo_max))
        form.addRow("Key shift", _range_row(self.key_min, self.key_max))
        form.addRow("Longest remix", self.max_length)
        form.addRow("Minimum rebalance", self.min_balance)
        form.addRow("Creator's share", self.creator_share)
        form.addRow("", self.requires_approval)
        note = QLabel(
            "The minimum rebalance is how far apart (in dB) the loudest and quietest stems must "
            "be when a remix changes nothing else: a remix at unity gain is not a derivative. "
            "The creator's share is of the remix's revenue; the platform takes its share, and "
            "the rest divides among the rightsholders of the stems a remix uses."
        )
        note.setObjectName("hint")
        note.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.save = QPushButton("Save policy")
        self.save.setObjectName("primary")
        self.cancel = QPushButton("Cancel")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.save)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(12)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        self.save.clicked.connect(self.submit)
        self.cancel.clicked.connect(self.reject)

    @staticmethod
    def _double(
        lo: float, hi: float, step: float, decimals: int, value: float, suffix: str
    ) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(lo, hi)
        box.setSingleStep(step)
        box.setDecimals(decimals)
        box.setSuffix(suffix)
        box.setValue(value)
        box.setMaximumWidth(150)
        return box

    @staticmethod
    def _int(lo: int, hi: int, value: int, suffix: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(lo, hi)
        box.setSuffix(suffix)
        box.setValue(value)
        box.setMaximumWidth(150)
        return box

    def policy(self) -> RightsPolicy:
        """The policy as the controls describe it (raises ValidationError on ordered ranges)."""
        allowed = [sid for sid, box in self.allowed.items() if box.isChecked()]
        return RightsPolicy(
            opted_in=self.opted_in.isChecked(),
            # Every stem ticked means "all": a stem added to the track later is allowed too.
            allowed_stems=None if len(allowed) == len(self.allowed) else allowed,
            solo_forbidden_stems=[s for s, box in self.solo_forbidden.items() if box.isChecked()],
            tempo_ratio_min=round(self.tempo_min.value(), 2),
            tempo_ratio_max=round(self.tempo_max.value(), 2),
            key_shift_min=self.key_min.value(),
            key_shift_max=self.key_max.value(),
            max_length_s=self.max_length.value(),
            requires_approval=self.requires_approval.isChecked(),
            creator_share=round(self.creator_share.value() / 100, 4),
            min_balance_change_db=self.min_balance.value(),
        )

    def submit(self) -> None:
        if not any(box.isChecked() for box in self.allowed.values()):
            self._show_error(
                "No stem is ticked under “Fans may use”, so a remix could use nothing. Tick at "
                "least one stem (to close the track to remixes, untick “Open this track to fan "
                "remixes” instead)."
            )
            return
        try:
            policy = self.policy()
        except ValidationError as exc:
            detail = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            self._show_error(f"{detail[0].upper()}{detail[1:]}. Fix the range and save again.")
            return
        self.save.setEnabled(False)
        self.error.setText("")
        client, track_id = self.client, self.detail.id
        self.tasks.run(lambda: client.set_policy(track_id, policy), self._saved, self._failed)

    def _saved(self, policy: RightsPolicy) -> None:
        self.saved = policy
        self.save.setEnabled(True)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.save.setEnabled(True)
        self._show_error(describe(exc))

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        restyle(self.error)
        self.adjustSize()  # a wrapped message gets the lines it needs
