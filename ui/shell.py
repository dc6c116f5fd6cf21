"""The application's life: platform, sign-in, studio window, sign-out, links from outside.

One `Shell` per process. It starts (and watches) the embedded platform or points at a remote
one, shows the sign-in window, opens the studio for the account that signed in, and shows the
sign-in window again when that account signs out, so switching accounts needs no relaunch. The
audio engine and its output stream live as long as the process: a new session reuses them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.client import PlatformClient
from app.drafts import DraftStore
from app.embedded import PendingPlatform, PlatformProcess, PlatformStartError, start_platform
from app.midi import default_path as midi_path
from app.playback import AudioOutput, Engine
from app.session import TokenVault, find_keyring
from app.settings import Settings, load_settings
from ui.instance import OPEN_PREFIX, RAISE
from ui.launch import APP_NAME
from ui.login import LoginDialog
from ui.mainwindow import MainWindow
from ui.tasks import TaskRunner

WATCH_MS = 1000
RESTARTS_PER_MINUTE = 3  # a platform that keeps dying is not restarted forever: Retry is offered


@dataclass
class Options:
    data_dir: Path
    platform: str | None  # None: the embedded local platform
    device: str | int | None
    blocksize: int | None
    link: str | None
    spawned: PendingPlatform | None = None  # the embedded platform, spawned by ui/launch.py


class Shell(QObject):
    def __init__(self, app: QApplication, options: Options, tasks: TaskRunner) -> None:
        super().__init__(app)
        self.app, self.options, self.tasks = app, options, tasks
        self.demo = options.platform is None
        self.embedded: PlatformProcess | None = None
        self.url: str | None = options.platform
        self.engine: Engine | None = None
        self.output: AudioOutput | None = None
        self.login: LoginDialog | None = None
        self.window: MainWindow | None = None
        self.pending_link = options.link
        self._settings: Settings | None = None
        self._restarts: list[float] = []
        self._restarting = False
        self._watch = QTimer(self, interval=WATCH_MS)
        self._watch.timeout.connect(self._watch_platform)

    # -- start and stop ---------------------------------------------------------------------------

    def start(self) -> None:
        self.tasks.run(find_keyring)  # off the path from platform start to sign-in
        self._show_login()
        if self.demo:
            data, spawned = self.options.data_dir / "platform", self.options.spawned
            self.tasks.run(
                lambda: spawned.wait() if spawned is not None else start_platform(data),
                self._embedded_up,
                self._start_failed,
            )
            self._watch.start()

    def shutdown(self) -> None:
        """Quit: the platform stopped and reaped; the output stream is the caller's to close."""
        self._watch.stop()
        if self.embedded is not None:
            self.embedded.stop()

    def _embedded_up(self, platform: PlatformProcess) -> None:
        self.embedded, self.url = platform, platform.url
        if self.login is not None:
            self._point_login(self.login)

    def _start_failed(self, exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, PlatformStartError) else repr(exc)
        if self.login is not None:
            self.login.platform_failed(f"{message}\nQuit and start Encore again.")

    # -- sessions ---------------------------------------------------------------------------------

    def _show_login(self) -> None:
        login = LoginDialog(self.tasks, demo=self.demo)
        login.accepted.connect(lambda: self._signed_in(login))
        login.rejected.connect(self._login_closed)
        login.finished.connect(login.deleteLater)
        self.login = login
        if self.url is not None:
            self._point_login(login)
        login.show()
        login.raise_()

    def _point_login(self, login: LoginDialog) -> None:
        assert self.url is not None
        # The embedded platform's port changes per run: its sessions are keyed by its data dir.
        vault = TokenVault(f"embedded:{self.options.data_dir}" if self.demo else self.url)
        label = "Connected to the local platform" if self.demo else f"Platform: {self.url}"
        login.platform_ready(PlatformClient(self.url), label, vault)

    def _login_closed(self) -> None:
        self.login = None
        if self.window is None:
            self.app.quit()

    def _signed_in(self, login: LoginDialog) -> None:
        self.login = None
        client, account = login.client, login.account
        assert client is not None and account is not None
        engine, output, settings = self._audio()
        platform_key = "embedded" if self.demo else client.base_url
        window = MainWindow(
            client,
            engine,
            self.tasks,
            DraftStore.for_account(
                self.options.data_dir / "drafts", platform_key, account.username
            ),
            Path(platformdirs.user_cache_dir(APP_NAME)) / "stems" / account.username,
            vault=login.vault,
            output=output,
            settings=settings,
            layout_file=self.options.data_dir / "window.ini",  # size, place, splitters
            midi_file=midi_path(),  # MIDI mappings, beside settings.json
            midi_inputs=True,
        )
        window.signedOut.connect(self._signed_out)
        self.window = window
        window.show()
        link, self.pending_link = self.pending_link, None
        if link:
            window.open_link(link)
        else:
            window.offer_latest_draft()

    def _signed_out(self) -> None:
        self.window = None
        self._show_login()

    def _audio(self) -> tuple[Engine, AudioOutput, Settings]:
        """The engine and the one output stream, opened at the first sign-in and kept."""
        if self.engine is None or self.output is None or self._settings is None:
            settings = self._settings = load_settings()
            device = (
                self.options.device if self.options.device is not None else settings.output_device
            )
            blocksize = self.options.blocksize or settings.blocksize
            self.engine = Engine()
            # The one owner of the output stream: the window reopens it (Audio settings) and it
            # watches for the device vanishing and coming back.
            self.output = AudioOutput(self.engine, device, blocksize)
            self.output.open(device, blocksize)
        return self.engine, self.output, self._settings

    # -- a second launch's request (ui/instance.py) -----------------------------------------------

    def handle_message(self, message: str) -> None:
        if message.startswith(OPEN_PREFIX):
            link = message.removeprefix(OPEN_PREFIX).strip()
            if self.window is not None:
                self.window.open_link(link)
            else:
                self.pending_link = link  # opened once someone signs in
        elif message != RAISE:
            return
        front: QWidget | None = self.window or self.login
        if front is not None:
            front.showNormal()
            front.raise_()
            front.activateWindow()

    # -- the embedded platform dies: restart it ---------------------------------------------------

    def _watch_platform(self) -> None:
        platform = self.embedded
        if platform is None or self._restarting or platform.running:
            return  # NB: `running` polls the child, which also reaps it when it has died
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < 60.0]
        code = platform.process.returncode
        if len(self._restarts) >= RESTARTS_PER_MINUTE:
            self._tell(
                f"The local platform keeps stopping (exit code {code}). Encore stopped "
                "restarting it; press Retry, or quit and start Encore again.",
                self._restart,
            )
            self._restarting = True  # until Retry
            return
        self._tell(
            f"The local platform stopped unexpectedly (exit code {code}). Encore is restarting "
            "it… your remix and draft are safe."
        )
        self._restart()

    def _restart(self) -> None:
        platform = self.embedded
        assert platform is not None
        self._restarting = True
        self._restarts.append(time.monotonic())
        self.tasks.run(platform.restart, self._restarted, self._restart_failed)

    def _restarted(self, platform: PlatformProcess) -> None:
        self.embedded, self._restarting = platform, False
        moved = platform.url != self.url
        self.url = platform.url
        if self.window is not None:
            if moved:
                self.window.client.base_url = platform.url
            self.window.platform_restarted()
        elif self.login is not None:
            self._point_login(self.login)

    def _restart_failed(self, exc: BaseException) -> None:
        self._tell(
            f"Encore could not restart the local platform: {exc}. Press Retry, or quit and "
            "start Encore again.",
            self._restart,
        )

    def _tell(self, text: str, retry: Callable[[], None] | None = None) -> None:
        if self.window is not None:
            self.window.show_banner(text, "Retry" if retry else "", retry)
        elif self.login is not None:
            self.login.platform_failed(text)
