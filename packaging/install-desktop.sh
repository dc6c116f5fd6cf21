#!/bin/sh
# Put this Encore bundle into the desktop's application menu and make it open encore:// links
# (the .desktop file registers the scheme). Run from the bundle: `./install-desktop.sh`.
# Per user, nothing as root: ~/.local/share/applications and the icon theme's scalable apps.
# To undo: delete those two files (encore.desktop, encore.svg).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$data/applications" "$data/icons/hicolor/scalable/apps"
cp "$here/encore.svg" "$data/icons/hicolor/scalable/apps/encore.svg"
# Exec names the bundle's executable by its full path: the bundle need not be on PATH.
sed "s|^Exec=encore |Exec=\"$here/encore\" |" "$here/encore.desktop" >"$data/applications/encore.desktop"
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database "$data/applications" || true
fi
if command -v xdg-mime >/dev/null 2>&1; then
  xdg-mime default encore.desktop x-scheme-handler/encore || true
fi
echo "Encore is in your applications menu ($data/applications/encore.desktop)."
