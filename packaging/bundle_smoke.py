"""`encore --smoke-test`: the real studio, driven by a script inside it, for the bundle's check.

A frozen bundle cannot be driven from outside the way the tests drive the widgets (pytest-qt
needs the app's objects in the same process), so the bundle carries this driver. It starts the
studio exactly as `encore` does (`ui.launch.main`: the embedded platform in its own process, the
app's own choice of audio device, the theme) and then does what a fan does, through Qt events
on the real widgets: types the account into the sign-in window and clicks Sign in, clicks the
first track of the catalog, clicks Play, and listens for 2 s of the track's own time. Nothing is
bypassed: the password is checked by the platform like any other sign-in.

With ENCORE_SMOKE_SUBMIT=1 it then shifts the key a semitone up (the keyboard on the key box)
and listens 1 s more through the live stretcher, pauses, mutes a stem, opens Submit remix…,
types a title, clicks Submit and waits for the platform's render (the embedded platform's whole
render path in the bundle: offline kernels, the stretcher, loudness, FLAC). The account is the
embedded platform's demo account unless ENCORE_SMOKE_USER / ENCORE_SMOKE_PASSWORD say otherwise.

Prints one line `ENCORE_SMOKE {json}` on stdout: the milestones (time.perf_counter, i.e.
CLOCK_MONOTONIC, comparable with the launching process), what was heard, the kernels in use and
whether numba was imported; exits 0 only if the track played 2 s with sound, no engine error, no
exception anywhere, the output device running (and the remix rendered, when submitting).
packaging/smoke.py launches it and reads that line.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from typing import Any

MARKER = "ENCORE_SMOKE"
PLAY_SECONDS = 2.0
STRETCH_SECONDS = 1.0  # played after the key shift (submitting only)
TIMEOUT_S = float(os.environ.get("ENCORE_SMOKE_TIMEOUT", "180"))
POLL_MS = 10
DEMO_USER, DEMO_PASSWORD = "fan", "encore-demo"  # the demo account the platform seeds (README)
SUBMIT = os.environ.get("ENCORE_SMOKE_SUBMIT", "") not in ("", "0")


def run_smoke(argv: list[str]) -> int:
    """Run the studio with the driver; the studio's own exit code, or 1 if a check failed."""
    started = time.perf_counter()
    from ui import launch  # as `encore` starts: the platform spawned, then Qt imported

    platform = launch.spawn_embedded(argv)
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from ui import main as encore  # PySide6 first, as `encore` starts
    from ui.login import LoginDialog
    from ui.mainwindow import MainWindow
    from ui.shell import Shell

    marks: dict[str, float] = {"started": started, "imported": time.perf_counter()}
    report: dict[str, Any] = {"errors": []}
    state: dict[str, Any] = {"peak": 0.0}

    def mark(name: str) -> None:
        marks.setdefault(name, time.perf_counter())

    def fail(message: str) -> None:
        report["errors"].append(message)

    previous_hook = sys.excepthook

    def excepthook(kind, value, tb) -> None:  # an exception in a Qt slot: Qt only prints it
        fail("".join(traceback.format_exception(kind, value, tb))[-2000:])
        previous_hook(kind, value, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        fail(f"thread {args.thread.name if args.thread else '?'}: {args.exc_value!r}")

    sys.excepthook = excepthook
    threading.excepthook = thread_hook

    def visible(kind: type) -> Any:
        return next(
            (w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()),
            None,
        )

    def finish(window: Any) -> None:
        mark("done")
        if window is not None:
            window.close()  # as the fan closes it: drafts saved, platform stopped
        else:
            QApplication.instance().quit()

    def sign_in(dialog: LoginDialog) -> None:
        mark("platform_ready")
        dialog.username.clear()
        QTest.keyClicks(dialog.username, os.environ.get("ENCORE_SMOKE_USER", DEMO_USER))
        dialog.password.clear()
        QTest.keyClicks(dialog.password, os.environ.get("ENCORE_SMOKE_PASSWORD", DEMO_PASSWORD))
        QTest.mouseClick(dialog.sign_in, Qt.MouseButton.LeftButton)
        mark("sign_in_clicked")

    def studio(window: MainWindow) -> bool:
        """One step in the studio; True when the check is over."""
        mark("window_shown")
        listing = window.catalog.list
        if listing.count() > 0 and "catalog_listed" not in marks:
            mark("catalog_listed")
            item = listing.item(0)
            listing.scrollToItem(item)
            rect = listing.visualItemRect(item)
            QTest.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            state["title"] = item.text().splitlines()[0].strip("\u2068\u2069")
        if window.studio.track is not None and "track_open" not in marks:
            mark("track_open")
            state["stems"] = len(window.studio.track.stems)
            window.engine.reset_diagnostics()
            QTest.mouseClick(window.transport.play_button, Qt.MouseButton.LeftButton)
            mark("play_clicked")
        if "play_clicked" not in marks:
            return False
        engine = window.engine
        position = engine.position_seconds
        if position > 0.0:
            mark("usable")  # playing: the device pulls the track's audio
            state["peak"] = max(state["peak"], float(engine.output_peak))
        if engine.callback_errors:
            fail(f"audio engine error: {engine.last_error!r}")
            return True
        if position < PLAY_SECONDS:
            return False
        mark("played")
        output = window.output
        report.update(
            track=state.get("title"),
            stems=state.get("stems"),
            played_s=round(position, 3),
            output_peak=round(state["peak"], 4),
            underflows=int(engine.underflows),
            output_state=str(output.state) if output else None,
            device=output.device_name if output else None,
            latency_ms=output.latency_ms if output else None,
            banner=window.banner.text() if window.banner.isVisible() else "",
            status=window.statusBar().currentMessage(),
        )
        if output is None or output.state != "running":
            why = f"{output.state}: {output.message}" if output else "no output"
            fail(f"the output is not running: {why}")
        if not engine.playing:
            fail("the engine stopped playing")
        if state["peak"] <= 0.0:
            fail("2 s of the track played in silence")
        if report["banner"]:
            fail(f"the studio shows a problem: {report['banner']}")
        return True

    def submitting(window: MainWindow) -> bool:
        """Submit the mix as a fan does and wait for the platform's render; True when over."""
        from core.contract import RemixStatus
        from ui.submit import FINAL

        engine = window.engine
        if "key_shifted" not in marks:
            # A key shift: the live stretcher (audio._signalsmith) takes over the playing stems.
            QTest.keyClick(window.track_controls.key, Qt.Key.Key_Up)
            mark("key_shifted")
            state["shift_from"] = engine.position_seconds
            state["shift_peak"] = 0.0
            return False
        if "stretched" not in marks:
            state["shift_peak"] = max(state["shift_peak"], float(engine.output_peak))
            if engine.callback_errors:
                fail(f"audio engine error after the key shift: {engine.last_error!r}")
                return True
            if engine.position_seconds - state["shift_from"] < STRETCH_SECONDS:
                return False
            mark("stretched")
            document = window.studio.document
            report["key_shift"] = document.key_shift if document is not None else None
            report["stretch_late_s"] = round(float(window.studio.stretch_late_seconds), 3)
            if report["key_shift"] != 1:
                fail(f"the key shift did not reach the remix: {report['key_shift']}")
            if state["shift_peak"] <= 0.0 or not engine.playing:
                fail("no sound after the key shift")
            return bool(report["errors"])
        dialog = state.get("submit")
        if dialog is None:
            QTest.mouseClick(window.transport.play_button, Qt.MouseButton.LeftButton)  # pause
            # A remix must differ from the original (docs/policy.md): mute the first stem.
            strip = next(iter(window.mixer.strips.values()))
            QTest.mouseClick(strip.mute, Qt.MouseButton.LeftButton)
            dialog = state["submit"] = window.open_submit()
            if dialog is None:
                fail("Submit remix… opened no dialog")
                return True
            dialog.title.clear()
            QTest.keyClicks(dialog.title, "Bundle smoke test")
            mark("submit_opened")
            return False
        if "submit_clicked" not in marks:
            waited = time.perf_counter() - marks["submit_opened"]
            if getattr(dialog, "problems", "pending") == "pending" and waited < 15.0:
                return False  # the platform's preflight answer (POST /v1/remixes/check)
            if not dialog.submit_button.isEnabled():
                fail(f"the Submit dialog refuses: {dialog.status.text()}")
                return True
            QTest.mouseClick(dialog.submit_button, Qt.MouseButton.LeftButton)
            mark("submit_clicked")
            return False
        if dialog.status.objectName() == "error":
            fail(f"submitting failed: {dialog.status.text()}")
            return True
        remix = dialog.remix
        if remix is None or remix.status not in FINAL:
            return False
        mark("remix_final")
        report["remix_status"] = str(remix.status)
        if remix.status not in (RemixStatus.PUBLISHED, RemixStatus.PENDING_APPROVAL):
            fail(f"the platform did not render the remix: {dialog.status.text()}")
        dialog.close()
        return True

    def drive() -> None:
        try:
            if time.perf_counter() - started > TIMEOUT_S:
                fail(f"timed out after {TIMEOUT_S:.0f} s; milestones: {sorted(marks)}")
                finish(visible(MainWindow))
                return
            if "platform_up" not in marks and any(
                shell.embedded is not None for shell in QApplication.instance().findChildren(Shell)
            ):
                mark("platform_up")  # the embedded platform answered (app/embedded.py)
            window = visible(MainWindow)
            if window is not None:
                if "played" not in marks or report["errors"]:
                    done = studio(window) and (report["errors"] or not SUBMIT)
                else:
                    done = submitting(window)
                if done:
                    finish(window)
                    return
            else:
                dialog = visible(LoginDialog)
                if dialog is not None:
                    mark("login_shown")
                    if dialog.error.text() and "sign_in_clicked" in marks:
                        fail(f"sign-in refused: {dialog.error.text()}")
                        finish(None)
                        dialog.reject()
                        return
                    if dialog.sign_in.isEnabled() and "sign_in_clicked" not in marks:
                        sign_in(dialog)
        except Exception:
            fail(traceback.format_exc()[-2000:])
            finish(visible(MainWindow))
            return
        QTimer.singleShot(POLL_MS, drive)

    QTimer.singleShot(0, drive)
    code = encore.main(argv, platform)
    mark("exited")
    report["exit_code"] = code
    report["marks"] = marks
    report["kernels"] = _kernels()
    report["libraries"] = _libraries()
    report["licences"] = _licences()
    print(f"{MARKER} {json.dumps(report)}", flush=True)
    if code != 0:
        return code
    return 0 if not report["errors"] and "played" in marks else 1


def _kernels() -> dict[str, Any]:
    """What compiled the audio: the build in the bundle, and whether numba/LLVM got loaded."""
    from audio import compiled

    info = {k: v for k, v in compiled.build_info().items() if k in ("mode", "reason", "target")}
    info["numba_imported"] = "numba" in sys.modules
    info["llvm_loaded"] = "llvmlite.binding" in sys.modules
    info["scipy_imported"] = "scipy" in sys.modules
    return info


def _licences() -> dict[str, Any]:
    """What the About dialog would list: read from the package metadata the bundle carries."""
    try:
        from app.licences import licence_report, version_of

        rows = licence_report()
    except Exception as exc:  # reported, not raised: the check goes on
        return {"error": repr(exc)}
    return {
        "encore": version_of("encore"),
        "components": len(rows),
        "unknown_version": sorted(r.component.name for r in rows if r.component.version == "?"),
        "not_ok": sorted(r.component.name for r in rows if not r.ok),
    }


NATIVE = ("libportaudio", "libjack", "libFLAC", "libsndfile", "libQt6Core", "encore_kernels")


def _libraries() -> dict[str, list[str]]:
    """Where the native libraries that matter were loaded from (the bundle's copies or not)."""
    found: dict[str, list[str]] = {}
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(maxsplit=5)[-1].strip()
                name = os.path.basename(path)
                for lib in NATIVE:
                    if name.startswith(lib) and path not in found.get(lib, []):
                        found.setdefault(lib, []).append(path)
    except OSError:
        pass
    return found
