"""`encore`'s entry point: the embedded platform is spawned first, the studio imported after.

The platform is a child process whose start (about a second of imports and database checks)
then runs on another core while this process imports Qt and the studio (about half a second),
instead of after it. Nothing here imports Qt or pydantic: every millisecond before the spawn is
a millisecond the fan waits for the sign-in button.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import platformdirs

from app.embedded import PendingPlatform, spawn_platform

APP_NAME = "encore"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    pending = spawn_embedded(args)
    from ui import main as studio

    return studio.main(args, pending)


def spawn_embedded(argv: list[str]) -> PendingPlatform | None:
    """The embedded platform for this command line, spawned now; None when it names another
    platform, asks for help, or cannot be read (the studio's own parser then says why).

    A second launch on a busy data dir spawns one too, before it can know: that platform finds
    the data dir locked by the first one's (server/cli.py) and leaves at once."""
    early = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    early.add_argument("--platform")
    early.add_argument("--data-dir", type=Path)
    try:
        known, _ = early.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):
        return None
    if known.platform or {"-h", "--help"} & set(argv):
        return None
    return spawn_platform((known.data_dir or default_data_dir()) / "platform")


if __name__ == "__main__":
    sys.exit(main())
