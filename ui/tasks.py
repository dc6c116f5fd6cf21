"""Run blocking work (network, decoding) off the GUI thread; deliver results on it.

Picard's `run_task(fn, on_done)` pattern: the function runs on a QThreadPool worker, and its
result or exception comes back through a queued signal, so callbacks always run on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class _Relay(QObject):
    # NB: emitted on a worker thread; the relay lives on the GUI thread, so delivery is queued.
    finished = Signal(object, object)
    failed = Signal(object, object)

    @Slot(object, object)
    def _deliver(self, callback: Callable[[Any], None] | None, value: Any) -> None:
        if callback is not None:
            callback(value)


class _Job(QRunnable):
    def __init__(
        self, relay: _Relay, fn: Callable[[], Any], on_done: Done | None, on_error: Failed | None
    ) -> None:
        super().__init__()
        self.relay, self.fn, self.on_done, self.on_error = relay, fn, on_done, on_error

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as exc:  # delivered to the GUI, which shows the message
            self.relay.failed.emit(self.on_error, exc)
        else:
            self.relay.finished.emit(self.on_done, result)


class TaskRunner(QObject):
    def __init__(self, parent: QObject | None = None, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._relay._deliver)
        self._relay.failed.connect(self._relay._deliver)

    def run(
        self, fn: Callable[[], Any], on_done: Done | None = None, on_error: Failed | None = None
    ) -> None:
        self._pool.start(_Job(self._relay, fn, on_done, on_error))

    def wait(self, msecs: int = 30000) -> bool:
        return self._pool.waitForDone(msecs)
