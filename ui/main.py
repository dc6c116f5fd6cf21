"""`encore`: start the studio, on the embedded local platform unless told another."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import platformdirs
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.client import PlatformClient
from app.drafts import DraftStore
from app.embedded import PlatformProcess, PlatformStartError, start_platform
from app.session import TokenVault
from app.settings import BLOCK_SIZES, load_settings
from audio.engine import Engine
from audio.mixer import MixKernel
from audio.output import AudioOutput
from ui.login import LoginDialog
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner

APP_NAME = "encore"


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
        default=Path(platformdirs.user_data_dir(APP_NAME)),
        help="where drafts and the embedded platform's data live",
    )
    parser.add_argument(
        "--device", help="audio output device (name or index; default: from Audio settings)"
    )
    parser.add_argument(
        "--blocksize",
        type=int,
        choices=BLOCK_SIZES,
        help="audio block size in frames (default: from Audio settings, else 256)",
    )
    return parser.parse_args(argv)


def load_theme() -> str:
    return (Path(__file__).with_name("theme.qss")).read_text(encoding="utf-8")


def quit_on_ctrl_c(app: QApplication) -> None:
    """Ctrl-C in the terminal quits like closing the window (drafts saved, platform stopped).

    Python only runs signal handlers between bytecodes, so an idle timer wakes it periodically."""
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    waker = QTimer(app, interval=250)
    waker.timeout.connect(lambda: None)
    waker.start()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Encore")
    app.setStyleSheet(load_theme())
    quit_on_ctrl_c(app)
    tasks = TaskRunner(app)
    # Compile the engine's DSP while the fan signs in, not when the first track opens.
    tasks.run(lambda: MixKernel(1, 256))
    embedded: list[PlatformProcess] = []

    demo = args.platform is None
    login = LoginDialog(tasks, demo=demo)

    def ready(url: str) -> None:
        # The embedded platform's port changes per run: its sessions are keyed by its data dir.
        vault = TokenVault(f"embedded:{args.data_dir}" if demo else url)
        label = "Connected to the local platform" if demo else f"Platform: {url}"
        login.platform_ready(PlatformClient(url), label, vault)

    if demo:

        def start() -> str:
            embedded.append(start_platform(args.data_dir / "platform"))
            return embedded[0].url

        def failed(exc: BaseException) -> None:
            message = str(exc) if isinstance(exc, PlatformStartError) else repr(exc)
            login.platform_failed(f"{message}\nQuit and start Encore again.")

        tasks.run(start, ready, failed)
    else:
        ready(args.platform)

    try:
        if login.exec() != LoginDialog.DialogCode.Accepted or login.client is None:
            return 0
        engine = Engine()
        settings = load_settings()
        device = args.device if args.device is not None else settings.output_device
        blocksize = args.blocksize or settings.blocksize
        # The one owner of the output stream: the window reopens it (Audio settings) and it
        # watches for the device vanishing and coming back (it also sets the GIL switch
        # interval the audio callback needs).
        output = AudioOutput(engine, device, blocksize)
        output.open(device, blocksize)
        account = login.client.account
        assert account is not None
        cache_dir = Path(platformdirs.user_cache_dir(APP_NAME)) / "stems" / account.username
        window = MainWindow(
            login.client,
            engine,
            tasks,
            DraftStore(args.data_dir / "drafts"),
            cache_dir,
            vault=login.vault,
            output=output,
            settings=settings,
        )
        window.show()
        code = app.exec()
        output.close()
        if output.wedged:
            # No fresh PortAudio could replace one whose device vanished (audio/device.py): its
            # atexit handler would hang. Everything of ours is saved and closed; leave without it.
            tasks.wait(5000)
            for platform in embedded:
                platform.stop()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    finally:
        tasks.wait(5000)
        for platform in embedded:
            platform.stop()


if __name__ == "__main__":
    sys.exit(main())
