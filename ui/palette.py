"""The theme's palette: the colours Qt paints with where the style sheet does not reach.

Native tooltips, popups and widgets the sheet has no rule for take their colours from the
application palette, and the default one is light: under the sheet's light text that is
unreadable. These are the sheet's own colours (`ui/theme.qss`), each text colour at least 4.5:1
(WCAG AA) on the background it goes with.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

Role = QPalette.ColorRole

COLORS: dict[QPalette.ColorRole, str] = {
    Role.Window: "#101117",
    Role.WindowText: "#e6e6ef",
    Role.Base: "#1c1d27",
    Role.AlternateBase: "#191a23",
    Role.Text: "#e6e6ef",
    Role.PlaceholderText: "#8d8ea6",
    Role.Button: "#252634",
    Role.ButtonText: "#e6e6ef",
    Role.BrightText: "#ffffff",
    Role.Highlight: "#34284a",
    Role.HighlightedText: "#ffffff",
    Role.ToolTipBase: "#262736",
    Role.ToolTipText: "#f2f2f8",
    Role.Link: "#ff8fb0",
    Role.LinkVisited: "#d9a3ff",
}
DISABLED_TEXT = "#8a8ba0"  # dimmer than the rest, still legible (5:1 on the input background)

# The text roles and the background each is read on (tests measure these pairs).
PAIRS = (
    (Role.WindowText, Role.Window),
    (Role.Text, Role.Base),
    (Role.Text, Role.AlternateBase),
    (Role.PlaceholderText, Role.Base),
    (Role.ButtonText, Role.Button),
    (Role.HighlightedText, Role.Highlight),
    (Role.ToolTipText, Role.ToolTipBase),
    (Role.Link, Role.Base),
)


def theme_palette(base: QPalette | None = None) -> QPalette:
    palette = QPalette(base) if base is not None else QPalette()
    for role, color in COLORS.items():
        palette.setColor(role, QColor(color))
    for role in (Role.WindowText, Role.Text, Role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(DISABLED_TEXT))
    return palette
