"""A one-line label that never cuts its text off: in a narrow place it shrinks the font a little
(when allowed), then ends the text in "…" and puts the whole text in its tooltip."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QFrame, QLabel, QWidget


class ElidedLabel(QLabel):
    """`text()` is always the whole text; what is painted is `shown_text()` in `shown_font()`.

    `min_point_size`: how far the font may shrink before the text is elided (None: not at all).
    The `elided` property says whether the text is cut short now (tests read it); the tooltip
    then starts with the whole text, followed by any tooltip set with `setToolTip`."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        *,
        min_point_size: float | None = None,
    ) -> None:
        super().__init__(text, parent)
        self.min_point_size = min_point_size
        self._tip = ""
        self.setProperty("elided", False)

    # -- what fits ------------------------------------------------------------------------------

    def _fitted(self) -> tuple[QFont, str]:
        text, width = self.text(), self.contentsRect().width()
        font = QFont(self.font())
        if QFontMetrics(font).horizontalAdvance(text) <= width:
            return font, text
        size = font.pointSizeF()
        while self.min_point_size is not None and size - 0.5 >= self.min_point_size:
            size -= 0.5
            font.setPointSizeF(size)
            if QFontMetrics(font).horizontalAdvance(text) <= width:
                return font, text
        return font, QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, width)

    def shown_font(self) -> QFont:
        return self._fitted()[0]

    def shown_text(self) -> str:
        return self._fitted()[1]

    def _refresh(self) -> None:
        elided = self.shown_text() != self.text()
        self.setProperty("elided", elided)
        tip = "\n".join(t for t in (self.text() if elided else "", self._tip) if t)
        super().setToolTip(tip)
        self.update()

    # -- QLabel ---------------------------------------------------------------------------------

    def setText(self, text: str) -> None:
        super().setText(text)
        self._refresh()

    def setToolTip(self, tip: str) -> None:
        self._tip = tip
        self._refresh()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        margins = self.contentsMargins()
        ellipsis = self.fontMetrics().horizontalAdvance("…")
        return QSize(ellipsis + margins.left() + margins.right(), hint.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._refresh()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (event.Type.FontChange, event.Type.StyleChange):
            self._refresh()

    def paintEvent(self, event) -> None:
        QFrame.paintEvent(self, event)  # the frame, if the style sheet gives it one
        font, text = self._fitted()
        painter = QPainter(self)
        painter.setFont(font)
        self.style().drawItemText(
            painter,
            self.contentsRect(),
            int(self.alignment()),
            self.palette(),
            self.isEnabled(),
            text,
            self.foregroundRole(),
        )
        painter.end()
