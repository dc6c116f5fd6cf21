"""User text (titles, names, reasons) is shown as a bidi isolate: a right-to-left title cannot
reorder the quotes, digits and words around it (issue #11 item 7). The platform already refuses
explicit direction controls in what users type (core/text.py); this is about ordinary Hebrew or
Arabic titles, which are allowed and must read correctly in English sentences.

Positions come from Qt's own text layout (QTextLayout.cursorToX), the one labels are painted with.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtGui import QFont, QTextLayout

from core.contract import RemixInfo, RemixStatus, TrackSummary
from core.text import isolate
from ui.catalog import CatalogPanel
from ui.takedown import TakedownDialog

HEBREW = "שיר"  # "song"
ARABIC = "أغنية"


def x_positions(text: str) -> list[float]:
    """Where each character of one line of `text` starts, left to right, as Qt lays it out."""
    layout = QTextLayout(text, QFont())
    layout.beginLayout()
    line = layout.createLine()
    line.setLineWidth(4000)
    layout.endLayout()
    return [line.cursorToX(i)[0] for i in range(len(text))]


def right_of(text: str, inner: str, after: str) -> bool:
    """Whether every character of `after` (the first occurrence after `inner`) is drawn to the
    right of every character of `inner` (in a left-to-right sentence: read after it)."""
    xs = x_positions(text)
    start = text.index(inner)
    tail = text.index(after, start + len(inner))
    return min(xs[tail : tail + len(after)]) >= max(xs[start : start + len(inner)])


@pytest.mark.parametrize("title", [HEBREW, ARABIC, f"Remix {HEBREW}"])
def test_an_isolated_title_keeps_the_numbers_after_it_in_place(qapp, title):
    plain = f"{title} · 3 stems"
    assert not right_of(plain, title, "3"), "Qt would reorder this: the test proves nothing"
    assert right_of(f"{isolate(title)} · 3 stems", title, "3")


def test_catalog_rows_isolate_titles_and_artists(qapp, qtbot):
    view = CatalogPanel()
    qtbot.addWidget(view)
    track = TrackSummary(
        id="t1", version=1, title=HEBREW, artist=ARABIC, duration=200.0, bpm=120.0,
        key="A minor", opted_in=True, stem_count=4,
    )  # fmt: skip
    view.set_tracks([track])
    title_line, artist_line, facts = view.list.item(0).text().split("\n")
    assert title_line == isolate(HEBREW) and artist_line == isolate(ARABIC)
    assert facts.startswith("120 BPM")


def test_takedown_heading_reads_in_order_with_a_right_to_left_title(qapp, qtbot):
    remix = RemixInfo(
        id="r1", track_id="t1", title=f"{HEBREW} 2", creator=ARABIC,
        status=RemixStatus.PUBLISHED, created_at=datetime.now(UTC), link="encore://remix/r1",
    )  # fmt: skip
    dialog = TakedownDialog(remix, client=None, tasks=None)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    heading = next(
        label.text()
        for label in dialog.findChildren(type(dialog.error))
        if "Take down" in label.text()
    )
    # "Take down “<title>” by <creator>?": the closing quote, "by" and the creator follow the
    # title, the question mark ends the line.
    assert right_of(heading, f"{HEBREW} 2", "” by ")
    assert right_of(heading, "” by ", ARABIC)
    assert right_of(heading, ARABIC, "?")
