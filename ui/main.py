"""`encore`: start the studio, on the embedded local platform unless told another."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QToolTip

from app.embedded import PendingPlatform
from app.playback import warm_up
from app.settings import BLOCK_SIZES
from core.links import LinkError, parse_remix_link
from ui.instance import OPEN_PREFIX, RAISE, SingleInstance
from ui.launch import default_data_dir
from ui.palette import theme_palette
from ui.shell import Options, Shell
from ui.tasks import TaskRunner


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="encore", description="Encore, the superfan remix studio")
    parser.add_argument(
        "--platform",
        metavar="URL",
        help="platform to use (default: start the embedded local platform)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="where drafts and the embedded platform's data live",
    )
    parser.add_argument(
        "--device", help="audio output device (name or index; default: from Audio settings)"
    )
    parser.add_argument(
        "link",
        nargs="?",
        help="an Encore link to open, e.g. encore://remix/… (from Copy link)",
    )
    parser.add_argument("--open", metavar="LINK", help="the same: open this Encore link")
    parser.add_argument(
        "--blocksize",
        type=int,
        choices=BLOCK_SIZES,
        help="audio block size in frames (default: from Audio settings, else 256)",
    )
    return parser.parse_args(argv)


def load_theme() -> str:
    return (Path(__file__).with_name("theme.qss")).read_text(encoding="utf-8")


def apply_theme(app: QApplication) -> None:
    """The style sheet, and a palette that agrees with it where Qt paints without the sheet
    (native tooltips, popups): `ui/palette.py`."""
    palette = theme_palette(app.palette())
    app.setPalette(palette)
    QToolTip.setPalette(palette)
    app.setStyleSheet(load_theme())


def quit_on_ctrl_c(app: QApplication) -> None:
    """Ctrl-C in the terminal quits like closing the window (drafts saved, platform stopped).

    Python only runs signal handlers between bytecodes, so an idle timer wakes it periodically."""
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    waker = QTimer(app, interval=250)
    waker.timeout.connect(lambda: None)
    waker.start()


def main(argv: list[str] | None = None, platform: PendingPlatform | None = None) -> int:
    """The studio. `platform`: the embedded platform, already spawned by `ui.launch` (the
    `encore` command); without it the studio spawns its own when it needs one."""
    try:
        return _studio(parse_args(sys.argv[1:] if argv is None else argv), platform)
    finally:
        if platform is not None:
            platform.kill()  # after the shell stopped it (then a no-op), or when it never ran


def _studio(args: argparse.Namespace, platform: PendingPlatform | None) -> int:
    link = args.open or args.link
    if link:
        try:
            parse_remix_link(link)
        except LinkError as exc:
            print(f"encore: {exc}", file=sys.stderr)
            return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Encore")
    apply_theme(app)
    instance = SingleInstance(args.data_dir)
    if not instance.acquire():
        return _hand_over(instance, link)
    quit_on_ctrl_c(app)
    tasks = TaskRunner(app)
    # Compile the engine's DSP while the fan signs in, not when the first track opens.
    tasks.run(warm_up)
    options = Options(args.data_dir, args.platform, args.device, args.blocksize, link, platform)
    shell = Shell(app, options, tasks)
    instance.messageReceived.connect(shell.handle_message)
    try:
        shell.start()
        code = app.exec()
        output = shell.output
        if output is not None:
            output.close()
            if output.wedged:
                # No fresh PortAudio could replace one whose device vanished (audio/device.py):
                # its atexit handler would hang. Everything of ours is saved and closed; leave
                # without it.
                tasks.wait(5000)
                shell.shutdown()
                instance.release()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        return code
    finally:
        tasks.wait(5000)
        shell.shutdown()
        shell.setParent(None)  # a later main() in this process (tests) starts from nothing
        instance.release()


def _hand_over(instance: SingleInstance, link: str | None) -> int:
    """Encore already runs on this data folder: give it the link (or bring it to the front)."""
    message = f"{OPEN_PREFIX}{link}" if link else RAISE
    for _ in range(10):  # the first one may still be starting up
        if instance.send(message):
            print("Encore is already running; it has been brought to the front.")
            return 0
        if instance.acquire():  # it quit meanwhile
            instance.release()
            break
        time.sleep(0.5)
    print(
        "encore: another Encore holds this data folder but does not answer. Close it, or start "
        "this one with another --data-dir.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
