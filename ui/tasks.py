"""Run blocking work (network, decoding) off the GUI thread; deliver results on it.

Picard's `run_task(fn, on_done)` pattern: the function runs on a QThreadPool worker, and its
result or exception comes back through a queued signal, so callbacks always run on the GUI thread.
Tests may ask for a synchronous runner (as Picard's tests swap in a synchronous pool): the
function runs at once on the calling (GUI) thread and its callback before `run` returns, so a test
of what a widget does with a result needs no waiting and no threads.
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

    def run_here(self) -> None:
        """The synchronous runner's path: the same outcome, delivered directly."""
        try:
            result = self.fn()
        except Exception as exc:
            if self.on_error is not None:
                self.on_error(exc)
        else:
            if self.on_done is not None:
                self.on_done(result)


class TaskRunner(QObject):
    def __init__(
        self, parent: QObject | None = None, max_threads: int = 4, *, synchronous: bool = False
    ) -> None:
        super().__init__(parent)
        self.synchronous = synchronous
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._relay._deliver)
        self._relay.failed.connect(self._relay._deliver)

    def run(
        self, fn: Callable[[], Any], on_done: Done | None = None, on_error: Failed | None = None
    ) -> None:
        job = _Job(self._relay, fn, on_done, on_error)
        if self.synchronous:
            job.run_here()
        else:
            self._pool.start(job)

    def wait(self, msecs: int = 30000) -> bool:
        return self._pool.waitForDone(msecs)
