"""One Encore per data folder: a second launch hands its request to the first and leaves.

Two Encores on one data folder would both start a platform on the same SQLite file and write the
same drafts. The first one holds a lock file (`QLockFile`: a crashed holder's stale lock is taken
over, judged by its process id) and listens on a local socket named after the folder; a second
launch finds the lock taken and sends its message ("raise", or "open <link>") there.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

RAISE = "raise"
OPEN_PREFIX = "open "
CONNECT_MS = 2000


def server_name(data_dir: Path) -> str:
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return f"encore-{digest}"


class SingleInstance(QObject):
    """`acquire()` in the first instance (then `messageReceived` delivers later launches'
    messages); `send()` from a launch that could not acquire."""

    messageReceived = Signal(str)

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.name = server_name(data_dir)
        self._lock = QLockFile(str(data_dir / "encore.lock"))
        self._lock.setStaleLockTime(0)  # stale only when its process is gone, never by age
        self._server: QLocalServer | None = None

    def acquire(self) -> bool:
        if not self._lock.tryLock(0):
            return False
        server = QLocalServer(self)
        QLocalServer.removeServer(self.name)  # a crashed holder's socket file
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            self._lock.unlock()
            return False
        server.newConnection.connect(self._accept)
        self._server = server
        return True

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._lock.unlock()

    def send(self, message: str) -> bool:
        """Deliver `message` to the running instance; False when none answers."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(CONNECT_MS):
            return False
        socket.write((message + "\n").encode())
        ok = socket.waitForBytesWritten(CONNECT_MS)
        socket.disconnectFromServer()
        return ok

    def _accept(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            line = bytes(socket.readLine().data()).decode(errors="replace").strip()
            if line:
                self.messageReceived.emit(line[:500])
