"""PortAudio output (via sounddevice) around an `Engine`.

The stream callback does exactly two things: count PortAudio's underflow flag and call
`engine.process(outdata)`. Everything else (mixing, transport, fault handling) lives in the engine
so it can be tested and rendered offline without a device.
"""

from __future__ import annotations

from typing import Any

import sounddevice as sd

from audio.engine import Engine

_NO_DEVICE_HINT = (
    "No audio output device found. Connect one, or start JACK "
    "(e.g. `jackd -d dummy -r 48000 -p 128` for a silent virtual device), then restart Encore."
)


class AudioDeviceError(RuntimeError):
    """The output device is missing or cannot be opened; the message says what to do."""


def _hostapi_name(index: int) -> str:
    return str(sd.query_hostapis(index)["name"])


def list_output_devices() -> list[dict[str, Any]]:
    """Every PortAudio device with output channels, as plain dicts for the settings UI."""
    devices = []
    for dev in sd.query_devices():
        if dev["max_output_channels"] < 1:
            continue
        devices.append(
            {
                "index": int(dev["index"]),
                "name": str(dev["name"]),
                "hostapi": _hostapi_name(dev["hostapi"]),
                "default_samplerate": float(dev["default_samplerate"]),
                "max_output_channels": int(dev["max_output_channels"]),
            }
        )
    return devices


def default_output_device() -> int | None:
    """PortAudio's default output if it has one, else the first JACK output, else None."""
    try:
        default = sd.default.device[1]
        if default is not None and int(default) >= 0:
            dev = sd.query_devices(int(default))
            if dev["max_output_channels"] >= 1:
                return int(default)
    except (sd.PortAudioError, ValueError, TypeError):
        pass
    outputs = list_output_devices()
    for dev in outputs:
        if "JACK" in dev["hostapi"].upper():
            return int(dev["index"])
    return None


def _describe_available() -> str:
    try:
        outputs = list_output_devices()
    except sd.PortAudioError:
        outputs = []
    if not outputs:
        return _NO_DEVICE_HINT
    names = ", ".join(f"{d['index']}: {d['name']} ({d['hostapi']})" for d in outputs)
    return f"Available output devices: {names}. Pick one of these in Settings → Audio."


class OutputStream:
    """A stereo float32 sounddevice.OutputStream whose callback is `engine.process`."""

    def __init__(
        self,
        engine: Engine,
        device: int | str | None = None,
        blocksize: int = 256,
        latency: str | float = "low",
    ) -> None:
        if blocksize > engine.max_block:
            raise ValueError(f"blocksize {blocksize} exceeds engine.max_block {engine.max_block}")
        self.engine = engine
        if device is None:
            device = default_output_device()
            if device is None:
                raise AudioDeviceError(_NO_DEVICE_HINT)
        try:
            self._stream = sd.OutputStream(
                samplerate=engine.sample_rate,
                blocksize=blocksize,
                device=device,
                channels=2,
                dtype="float32",
                latency=latency,
                callback=self._callback,
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioDeviceError(
                f"Cannot open audio output device {device!r} at {engine.sample_rate} Hz stereo: "
                f"{exc}. {_describe_available()}"
            ) from exc

    def _callback(self, outdata, frames, time, status) -> None:
        # NB: runs on PortAudio's real-time thread.
        if status.output_underflow:
            self.engine.underflows += 1
        self.engine.process(outdata)

    def start(self) -> None:
        try:
            self._stream.start()
        except sd.PortAudioError as exc:
            raise AudioDeviceError(
                f"Cannot start audio output: {exc}. {_describe_available()}"
            ) from exc

    def stop(self) -> None:
        self._stream.stop()

    def close(self) -> None:
        self._stream.close()

    @property
    def active(self) -> bool:
        return bool(self._stream.active)

    @property
    def latency_seconds(self) -> float:
        """Output latency PortAudio reports for the open stream."""
        return float(self._stream.latency)

    def __enter__(self) -> OutputStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
