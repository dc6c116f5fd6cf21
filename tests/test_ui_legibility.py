"""Every text legible: real windows with the theme, offscreen, measured on their pixels.

Contrast is WCAG 2 (relative luminance, AA: at least 4.5:1 for text), taken from what is painted:
the widget (or popup, or tooltip) is grabbed, its background is the most common colour in the
text's box and its text colour the painted pixel that stands out most from it. Palettes are not
trusted: with a style sheet the palette and the painted colours part ways (a tooltip's palette
says one thing while the style sheet's `color` paints another).

Fit: a label, button or check box shows its whole text at the default font size, or elides it
on purpose with the full text in its tooltip.

Disabled controls are left out of the contrast check (WCAG 1.4.3 exempts inactive components).
The windows are built as `encore` builds them, with `ui.main.apply_theme` on the application;
ENCORE_SCREENSHOTS=dir saves what was measured (windows, a tooltip, a dropdown, a menu).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backends import fail
from PySide6 import QtGui
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QImage,
    QKeySequence,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QApplication,
    QCheckBox,
    QComboBox,
    QCompleter,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStyle,
    QStyleOptionButton,
    QToolTip,
    QTreeWidget,
    QWidget,
)

from app.client import PlatformClient
from app.drafts import DraftStore
from app.session import NO_KEYRING_MESSAGE, TokenVault
from audio.engine import Engine
from core.contract import (
    AutomationLane,
    RemixDocument,
    RemixStatus,
    ReverbSettings,
    ReviewDecision,
    StemSettings,
)
from core.text import isolate
from tests.platform_helpers import PASSWORD, create_user
from ui.login import LoginDialog
from ui.mainwindow import MainWindow
from ui.palette import PAIRS

pytestmark = pytest.mark.ui

AA = 4.5
TRACK = "paper-lanterns"  # its keys stem is "Electric Piano", the demo's longest stem name
REVIEWED = "undertow"  # artist2's track: opened with approval for the review page


# -- WCAG contrast ------------------------------------------------------------------------------


def luminance(color: QColor) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.red())
        + 0.7152 * channel(color.green())
        + 0.0722 * channel(color.blue())
    )


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula():
    assert contrast(QColor("#000000"), QColor("#ffffff")) == pytest.approx(21.0)
    assert contrast(QColor("#777777"), QColor("#ffffff")) == pytest.approx(4.48, abs=0.01)
    assert contrast(QColor("#e6e6ef"), QColor("#ffffdc")) < 1.3  # the old tooltips


def painted_contrast(image: QImage, rect: QRect) -> tuple[float, QColor, QColor]:
    """(ratio, background, text) of what is painted in `rect`: the background is the commonest
    colour, the text the pixel that stands out most from it (a glyph stem's full coverage)."""
    rect = rect.intersected(image.rect())
    counts: Counter[int] = Counter()
    for y in range(rect.top(), rect.bottom() + 1):
        for x in range(rect.left(), rect.right() + 1):
            counts[image.pixel(x, y) & 0xFFFFFF] += 1
    if not counts:
        return float("inf"), QColor(), QColor()
    background = QColor(counts.most_common(1)[0][0])
    text = max((QColor(rgb) for rgb in counts), key=lambda c: contrast(c, background))
    return contrast(text, background), background, text


def describe_contrast(what: str, ratio: float, background: QColor, text: QColor) -> str:
    return f"{what}: {text.name()} on {background.name()} is {ratio:.2f}:1"


# -- what is painted -----------------------------------------------------------------------------


def visible_widgets(root: QWidget) -> Iterator[QWidget]:
    for widget in [root, *root.findChildren(QWidget)]:
        if widget.isVisible() and widget.width() > 0 and widget.height() > 0:
            yield widget


def name_of(widget: QWidget) -> str:
    text = widget.text() if hasattr(widget, "text") else ""
    label = widget.objectName() or widget.accessibleName()
    return f"{type(widget).__name__}({label!r}, {plain(text)[:40]!r})"


def plain(text: str) -> str:
    if "<" in text and QtGui.Qt.mightBeRichText(text):
        doc = QTextDocument()
        doc.setHtml(text)
        return doc.toPlainText()
    return text


def label_contrast_problems(window: QWidget) -> list[str]:
    """Every visible label's and button's text against what is painted behind it."""
    image = window.grab().toImage()
    scale = image.devicePixelRatio()
    problems = []
    for widget in visible_widgets(window):
        if not isinstance(widget, QLabel | QAbstractButton | QLineEdit) or not widget.isEnabled():
            continue
        shown = widget.text() or (widget.placeholderText() if isinstance(widget, QLineEdit) else "")
        if not plain(shown).strip():
            continue
        top_left = widget.mapTo(window, QPoint(0, 0))
        rect = QRect(top_left * scale, widget.size() * scale)
        visible = widget.visibleRegion().boundingRect()
        if visible.width() < widget.width() or visible.height() < widget.height():
            continue  # partly scrolled away: its painted box is not all of it
        ratio, background, text = painted_contrast(image, rect)
        if ratio < AA:
            problems.append(describe_contrast(name_of(widget), ratio, background, text))
    return problems


def shown_tooltip() -> QWidget | None:
    tips = [w for w in QApplication.topLevelWidgets() if w.inherits("QTipLabel")]
    return next((t for t in tips if t.isVisible()), None)


def tooltip_problems(qtbot, window: QWidget) -> list[str]:
    """Show every visible widget's tooltip and measure it as painted."""
    problems = []
    seen: set[tuple[str, str]] = set()
    for widget in visible_widgets(window):
        # The window's own stands for every widget without one (the same rules paint it).
        tip = widget.toolTip() or ("Reverb send 35 %" if widget is window else "")
        key = (type(widget).__name__, widget.objectName())
        if not tip or key in seen:
            continue
        seen.add(key)  # one of each kind: the same rules paint them all
        QToolTip.showText(widget.mapToGlobal(QPoint(2, 2)), tip, widget)
        qtbot.waitUntil(lambda: shown_tooltip() is not None, timeout=2000)
        label = shown_tooltip()
        if widget is window:
            shot(label, "tooltip")
        image = label.grab().toImage()
        inner = image.rect().adjusted(2, 2, -2, -2)  # the text's box, inside the tip's border
        ratio, background, text = painted_contrast(image, inner)
        if ratio < AA:
            what = f"tooltip of {name_of(widget)}"
            problems.append(describe_contrast(what, ratio, background, text))
        QToolTip.hideText()
        qtbot.waitUntil(lambda: shown_tooltip() is None, timeout=2000)
    return problems


def item_view_problems(what: str, view: QAbstractItemView) -> list[str]:
    """Each row of a popup list as painted (the current row is highlighted: it counts too)."""
    image = view.viewport().grab().toImage()
    scale = image.devicePixelRatio()
    problems = []
    model = view.model()
    for row in range(model.rowCount(view.rootIndex())):
        index = model.index(row, view.modelColumn() if hasattr(view, "modelColumn") else 0)
        rect = view.visualRect(index)
        if rect.isEmpty():
            continue
        ratio, background, text = painted_contrast(
            image, QRect(rect.topLeft() * scale, rect.size() * scale)
        )
        if ratio < AA:
            problems.append(
                describe_contrast(f"{what} row {index.data()!r}", ratio, background, text)
            )
    return problems


def popup_problems(qtbot, window: QWidget) -> list[str]:
    """Combo box dropdowns, a context menu and a completer popup, open and painted."""
    problems = []
    for combo in window.findChildren(QComboBox):
        if not combo.isVisible():
            continue
        combo.showPopup()
        qtbot.waitUntil(lambda c=combo: c.view().isVisible(), timeout=2000)
        problems += item_view_problems(f"dropdown of {name_of(combo)}", combo.view())
        shot(combo.view().window(), "dropdown")
        combo.hidePopup()
    menu = QMenu(window)  # items, a hovered one, shortcut hints, a disabled one
    first = menu.addAction("Copy link")
    first.setShortcut(QKeySequence("Ctrl+C"))
    menu.addSeparator()
    menu.addAction("Take down…").setShortcut(QKeySequence("Ctrl+D"))
    menu.addAction("Nothing to undo").setEnabled(False)
    menu.popup(window.mapToGlobal(QPoint(20, 20)))
    qtbot.waitUntil(menu.isVisible, timeout=2000)
    menu.setActiveAction(first)
    shot(menu, "menu")
    problems += menu_problems(menu)
    menu.close()
    menu.deleteLater()
    edits = [e for e in window.findChildren(QLineEdit) if e.isVisible() and e.isEnabled()]
    if edits:
        edit = edits[0]
        menu = edit.createStandardContextMenu()
        menu.popup(edit.mapToGlobal(QPoint(4, 4)))
        qtbot.waitUntil(menu.isVisible, timeout=2000)
        problems += menu_problems(menu)
        menu.close()
        menu.deleteLater()
        completer = QCompleter(["Electric Piano", "Drums", "Bass"], edit)
        completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        edit.setCompleter(completer)
        completer.complete()
        popup = completer.popup()
        qtbot.waitUntil(popup.isVisible, timeout=2000)
        shot(popup, "completer")
        problems += item_view_problems("completer popup", popup)
        popup.hide()
        edit.setCompleter(None)
    return problems


def menu_problems(menu: QMenu) -> list[str]:
    """Each item as painted, shortcut hint included; disabled ones too (the theme keeps them
    legible, dimmer)."""
    image = menu.grab().toImage()
    scale = image.devicePixelRatio()
    problems = []
    for action in menu.actions():
        if action.isSeparator() or not action.isVisible():
            continue
        rect = menu.actionGeometry(action)
        ratio, background, text = painted_contrast(
            image, QRect(rect.topLeft() * scale, rect.size() * scale)
        )
        if ratio < AA:
            problems.append(
                describe_contrast(f"menu item {action.text()!r}", ratio, background, text)
            )
    return problems


# -- fit ----------------------------------------------------------------------------------------


def elided_on_purpose(widget: QWidget, full: str) -> bool:
    return bool(widget.property("elided")) and full in widget.toolTip()


def button_text_rect(button: QAbstractButton) -> QRect:
    option = QStyleOptionButton()
    button.initStyleOption(option)
    element = (
        QStyle.SubElement.SE_CheckBoxContents
        if isinstance(button, QCheckBox)
        else QStyle.SubElement.SE_PushButtonContents
    )
    return button.style().subElementRect(element, option, button)


def fit_problems(window: QWidget) -> list[str]:
    problems = []
    for widget in visible_widgets(window):
        if isinstance(widget, QLabel):
            problem = label_fit_problem(widget)
        elif isinstance(widget, QPushButton | QCheckBox):
            problem = button_fit_problem(widget)
        else:
            continue
        problem = problem or cut_off(widget)
        if problem:
            problems.append(f"{name_of(widget)}: {problem}")
    return problems


def cut_off(widget: QWidget) -> str | None:
    """Cut at the side by a parent that cannot scroll sideways (a list row wider than its list).
    Vertical cuts are left alone: those pages scroll."""
    seen = widget.visibleRegion().boundingRect()
    if seen.isEmpty() or seen.width() >= widget.width():
        return None
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea) and parent.horizontalScrollBar().maximum() > 0:
            return None  # it scrolls into view
        parent = parent.parentWidget()
    return f"only {seen.width()}px of its {widget.width()}px are on screen"


def label_fit_problem(label: QLabel) -> str | None:
    text = plain(label.text())
    if not text.strip():
        return None
    metrics = label.fontMetrics()
    if hasattr(label, "shown_text"):  # ui/elide.py: paints what fits, says so
        shown = label.shown_text()
        if shown != text and not elided_on_purpose(label, text):
            return f"shows {shown!r} without the whole text in its tooltip"
        text, metrics = shown, QFontMetrics(label.shown_font())
    elif elided_on_purpose(label, text):
        return None
    m = label.margin()
    box = label.contentsRect().adjusted(m, m, -m, -m)
    if label.indent() > 0:
        box.setLeft(box.left() + label.indent())
    lines = text.split("\n")
    if label.wordWrap():
        words = [w for w in re.split(r"\s+", text) if w]
        widest_word = max(map(metrics.horizontalAdvance, words), default=0)
        if widest_word > box.width():
            return f"a word needs {widest_word}px, the label has {box.width()}px"
        needed = label.heightForWidth(label.width())
        if needed > label.height():
            return f"wrapped it needs {needed}px of height, it has {label.height()}px"
        return None
    widest = max(metrics.horizontalAdvance(line) for line in lines)
    if widest > box.width():
        return f"needs {widest}px, has {box.width()}px"
    tall = metrics.lineSpacing() * len(lines)
    if tall > box.height() + 1:
        return f"needs {tall}px of height, has {box.height()}px"
    return None


def button_fit_problem(button: QAbstractButton) -> str | None:
    text = button.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
    if not text.strip() or elided_on_purpose(button, text):
        return None
    box = button_text_rect(button)
    needed = button.fontMetrics().horizontalAdvance(text)
    if not button.icon().isNull():
        needed += button.iconSize().width() + 4
    if needed > box.width():
        return f"needs {needed}px, has {box.width()}px"
    if button.fontMetrics().height() > box.height() + 1:
        return f"needs {button.fontMetrics().height()}px of height, has {box.height()}px"
    return None


# -- the windows --------------------------------------------------------------------------------


def test_the_palette_agrees_with_the_theme(themed):
    """Where Qt paints from the palette alone (native tooltips, popups outside the sheet)."""
    palettes = {"application": themed.palette(), "tooltip": QToolTip.palette()}
    for name, palette in palettes.items():
        for text, background in PAIRS:
            ratio = contrast(palette.color(text), palette.color(background))
            assert ratio >= AA, f"{name} palette: {text.name} on {background.name}: {ratio:.2f}"


def shot(widget: QWidget, name: str) -> None:
    """ENCORE_SCREENSHOTS=dir pytest tests/test_ui_legibility.py: look at what was measured."""
    folder = os.environ.get("ENCORE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(folder) / f"{name}.png"))


# -- words ----------------------------------------------------------------------------------------

DEVELOPER_LANGUAGE = (
    (re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b"), "a field name"),
    (re.compile(r"[{\[]'|'[}\]]|\b(?:None|True|False)\b(?! \w)"), "Python's own text"),
    (re.compile(r"\d\.\d{4,}"), "a number with more digits than anyone reads"),
)


def shown_texts(window: QWidget) -> Iterator[tuple[str, str]]:
    """(where, text) for every text a person can read in the window: labels, buttons, tree rows
    and every tooltip."""
    for widget in visible_widgets(window):
        texts = [widget.toolTip()]
        if isinstance(widget, QLabel | QAbstractButton):
            texts.append(plain(widget.text()))
        if isinstance(widget, QTreeWidget):
            for i in range(widget.topLevelItemCount()):
                item = widget.topLevelItem(i)
                texts += [item.text(c) for c in range(item.columnCount())]
        for text in texts:
            if text:
                yield name_of(widget), text


def wording_problems(window: QWidget, stem_ids: list[str]) -> list[str]:
    """Developer language in front of people: field names, Python reprs, raw floats, stem ids."""
    problems = []
    for where, text in shown_texts(window):
        for pattern, what in DEVELOPER_LANGUAGE:
            if found := pattern.search(text):
                problems.append(f"{where} shows {what}, {found.group()!r}, in {text!r}")
        problems += [f"{where} shows stem id {i!r} in {text!r}" for i in stem_ids if i in text]
    return problems


def legibility_problems(
    qtbot, window: QWidget, name: str, stem_ids: list[str] | None = None
) -> list[str]:
    qtbot.wait(300)  # layouts settle (a list lays its rows out again 100 ms after a resize)
    shot(window, name)
    problems = (
        label_contrast_problems(window)
        + tooltip_problems(qtbot, window)
        + popup_problems(qtbot, window)
        + fit_problems(window)
        + wording_problems(window, stem_ids or [])
    )
    return [f"{name}: {p}" for p in problems]


def assert_none(problems: list[str]) -> None:
    assert not problems, "\n".join(["", *problems])


def test_the_sign_in_dialog_is_legible(qtbot, tasks, themed, platform):
    dialog = LoginDialog(tasks, demo=True)
    qtbot.addWidget(dialog)
    vault = TokenVault(platform.url, fail.Keyring())  # a headless box: the notice shows
    dialog.platform_ready(PlatformClient(platform.url), "Local platform at 127.0.0.1", vault)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert NO_KEYRING_MESSAGE in dialog.platform_label.text()
    assert_none(legibility_problems(qtbot, dialog, "sign-in"))


def signed_in(url: str, username: str, password: str = "encore-demo") -> PlatformClient:
    client = PlatformClient(url)
    client.login(username, password)
    return client


def studio_window(qtbot, client, tasks, tmp_path) -> MainWindow:
    window = MainWindow(
        client, Engine(), tasks, DraftStore(tmp_path / "drafts"), tmp_path / "cache"
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_the_studio_with_a_track_open_is_legible(qtbot, tasks, themed, platform, tmp_path):
    window = studio_window(qtbot, signed_in(platform.url, "fan"), tasks, tmp_path)
    qtbot.waitUntil(lambda: window.catalog.list.count() >= 2, timeout=10000)
    window.open_track(TRACK)
    qtbot.waitUntil(lambda: window.studio.track is not None, timeout=30000)
    names = [s.name for s in window.studio.track.stems]
    assert "Electric Piano" in names
    qtbot.waitUntil(lambda: len(window.mixer.strips) == len(names), timeout=10000)
    ids = [s.id for s in window.studio.track.stems]
    assert_none(legibility_problems(qtbot, window, "studio", ids))


def submit(client: PlatformClient, track_id: str, title: str, **settings):
    detail = client.track(track_id)
    ids = [s.id for s in detail.stems]
    doc = RemixDocument(
        track_id=detail.id,
        track_version=detail.version,
        title=title,
        tempo_ratio=1.1,
        stems={
            ids[0]: StemSettings(gain_db=-4.5, lp_hz=778.0902899885614, send_reverb=0.35),
            ids[1]: StemSettings(hp_hz=120.0, pan=-0.3),
        },
        reverb=ReverbSettings(size=0.8123456),
        automation=[AutomationLane(stem=ids[2], param="send_delay", points=[(0, 0), (4, 0.5)])],
        **settings,
    )
    return client.submit_remix(doc, f"{title}-legibility")


def test_my_remixes_and_the_review_page_are_legible(qtbot, tasks, themed, platform, tmp_path):
    artist = signed_in(platform.url, "artist2")
    original = artist.track(REVIEWED).policy
    create_user(platform.url, platform.data_dir, "legible-fan")
    fan = signed_in(platform.url, "legible-fan", PASSWORD)
    remix = None
    try:
        ids = [s.id for s in artist.track(REVIEWED).stems]
        names = {s.id: s.name for s in artist.track(REVIEWED).stems}
        opened = {"opted_in": True, "requires_approval": True, "solo_forbidden_stems": [ids[4]]}
        artist.set_policy(REVIEWED, original.model_copy(update=opened))
        remix = submit(fan, REVIEWED, "Legible flip")
        qtbot.waitUntil(
            lambda: fan.remix(remix.id).status == RemixStatus.PENDING_APPROVAL, timeout=180000
        )

        mine = studio_window(qtbot, fan, tasks, tmp_path / "fan")
        mine.sections.show_section("remixes")
        remixes = mine.sections.remixes
        qtbot.waitUntil(lambda: remixes.list.count() == 1, timeout=10000)
        remixes.list.setCurrentRow(0)
        qtbot.waitUntil(lambda: remixes.detail.disclosure.fields != {}, timeout=10000)
        assert remixes.detail.chip.text() == "Pending approval"
        fields = remixes.detail.disclosure.fields
        assert (
            f"{isolate(names[ids[0]])}: level -4.5 dB, low-pass filter 778 Hz, reverb send 35 %"
            in (fields["Mix"])
        )
        assert f"{isolate(names[ids[1]])}: pan 30 % left, high-pass filter 120 Hz" in fields["Mix"]
        assert "reverb size 81 %" in fields["Transformations"]
        assert f"automated: {names[ids[2]]} delay send" in fields["Transformations"]
        problems = legibility_problems(qtbot, mine, "my-remixes", ids)

        review = studio_window(qtbot, artist, tasks, tmp_path / "artist")
        review.sections.show_section("review")
        view = review.sections.artist
        qtbot.waitUntil(lambda: view.track_list.count() == 1, timeout=10000)
        view.track_list.setCurrentRow(0)
        qtbot.waitUntil(lambda: view.queue_list.count() >= 1, timeout=10000)
        view.queue_list.setCurrentRow(0)
        qtbot.waitUntil(lambda: view.remix_detail.isVisible(), timeout=10000)
        problems += legibility_problems(qtbot, review, "review", ids)
        view.tabs.setCurrentIndex(1)
        qtbot.waitUntil(lambda: view.audit_entries != [], timeout=10000)
        changed = view.audit_view.topLevelItem(0).text(3)
        assert f"stems never heard alone: none → {names[ids[4]]}" in changed
        problems += legibility_problems(qtbot, review, "audit", ids)
        assert_none(problems)
    finally:
        if remix is not None and fan.remix(remix.id).status == RemixStatus.PENDING_APPROVAL:
            # Nothing left waiting for the review tests after this one.
            artist.review(remix.id, ReviewDecision.REJECT, "Legibility test, not a real remix")
        artist.set_policy(REVIEWED, original)
