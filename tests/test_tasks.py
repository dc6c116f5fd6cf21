"""The task runner: work off the GUI thread, results on it; and its synchronous test mode."""

from __future__ import annotations

import threading

from ui.tasks import TaskRunner


def test_work_runs_on_a_worker_and_the_result_comes_back_on_the_gui_thread(qtbot):
    runner = TaskRunner()
    seen: dict[str, object] = {}

    def work() -> int:
        seen["worker"] = threading.current_thread()
        return 42

    def done(value: int) -> None:
        seen["value"], seen["callback"] = value, threading.current_thread()

    runner.run(work, done)
    qtbot.waitUntil(lambda: "value" in seen, timeout=10000)
    assert seen["value"] == 42
    assert seen["worker"] is not threading.main_thread()
    assert seen["callback"] is threading.main_thread()
    assert runner.wait(10000)


def test_a_failure_reaches_on_error_on_the_gui_thread(qtbot):
    runner = TaskRunner()
    errors: list[BaseException] = []
    runner.run(lambda: 1 / 0, lambda _v: errors.append(AssertionError("no result")), errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=10000)
    assert isinstance(errors[0], ZeroDivisionError)


def test_the_synchronous_runner_delivers_before_run_returns(qapp):
    runner = TaskRunner(synchronous=True)
    results: list[object] = []
    runner.run(lambda: threading.current_thread(), results.append)
    assert results == [threading.main_thread()]  # no worker, no waiting
    runner.run(lambda: {}["missing"], results.append, results.append)
    assert isinstance(results[1], KeyError)
    assert runner.wait(0)
