"""Every signature the app calls a compiled kernel with: what the ahead-of-time build exports.

numba's JIT compiles a kernel for whatever argument types it is first called with; an
ahead-of-time build needs them listed. These are numba signature strings (`f8[:, ::1]` a
C-contiguous 2-D float64 array, `f4[:, :, :]` any layout, `UniTuple(b1, 5)` a tuple of five
bools, `fnptr` a ctypes function pointer `int (*)(void *)`), kept free of numba so the app reads
them without importing it (audio.compiled picks the variant a call needs by them, and checks
every argument against them when ENCORE_KERNELS_STRICT is set, as the tests do).

A kernel called from Python with other types than these fails loudly in strict mode; in JIT mode
`tests/test_compiled_kernels.py` checks that the engine, a render and the decoders compile
nothing else. Kernels called only from other kernels are not listed: they are compiled into
their callers. Callbacks (`audio.compiled.callback`) are listed with their C signature.
"""

from __future__ import annotations

_C1, _C2, _C3 = "f8[::1]", "f8[:, ::1]", "f8[:, :, ::1]"  # the engine's float64 state
_I1, _B1 = "i8[::1]", "b1[::1]"
# dsp.limiter's LimiterParams and LimiterState (named tuples: the build names their classes).
_LIM_PARAMS = "NamedTuple((f8[:, ::1], f8, f8, f8), LimiterParams)"
_LIM_STATE = f"NamedTuple(({_C2}, {_I1}, {_C1}, {_I1}, {_C1}, {_C2}, {_I1}, {_I1}), LimiterState)"
_ACT = "UniTuple(b1, 5)"  # which of the five filter stages run (dsp.strip_prepare)

# dsp.StripState (a named tuple): coefficients cur/tgt, filter state, lane gains, sends.
_STRIP = f"NamedTuple(({_C3}, {_C3}, {_C3}, {_C1}, {_C1}, {_C2}, {_C2}), StripState)"
# dsp.strip_groups / strip_mix after the block: the state, flags, sums, peaks.
_GROUPS_TAIL = f"i8, i8, i8, {_STRIP}, b1, {_ACT}, b1, b1, b1, {_C2}, {_C2}, {_C1}"
_MIX_TAIL = f"i8, {_STRIP}, b1, {_B1}, {_C2}, {_C2}, b1, b1, {_C1}"
# dsp.reverb's ReverbLines (a named tuple), then size, damping, wet.
_REVERB_LINES = (
    f"NamedTuple(({_C1}, {_I1}, {_I1}, {_I1}, {_C1}, {_C1}, {_I1}, {_I1}, {_I1}), ReverbLines), "
    "f8, f8, f8"
)
_BLOCKS = ("f4[:, :, ::1]", "f4[:, :, :]")  # the engine's scratch, or a strided view of it
_FLAC = "fnptr, fnptr, i8, i8[::1], i4[::1]"  # process_single, get_state, decoder, state, stage

KERNELS: dict[str, list[str]] = {
    "audio.dsp.biquad.biquad_coefs": [f"none(i8, f8, f8, {_C1})"],
    "audio.dsp.strip.compute_targets": [
        f"i8({_C1}, {_C1}, {_B1}, {_B1}, {_C2}, f8, {_C2}, {_C3}, {_B1}, {_C1}, {_C2}, {_C1})"
    ],
    "audio.dsp.strip.strip_prepare": [f"Tuple((UniTuple(b1, 5), b1))(i8, {_STRIP}, b1, {_B1})"],
    "audio.dsp.strip.strip_groups": [
        f"none({block}, {_GROUPS_TAIL}, {xs})" for block in _BLOCKS for xs in ("none", _C2)
    ],
    "audio.dsp.strip.strip_accumulate": [
        f"none(i8, i8, i8, {_C2}, {_STRIP}, b1, b1, {_C2}, {_C2})"
    ],
    "audio.dsp.strip.strip_finish": [f"none(i8, {_ACT}, b1, {_STRIP})"],
    "audio.dsp.strip.strip_mix": [f"none({block}, {_MIX_TAIL})" for block in _BLOCKS],
    "audio.dsp.reverb.reverb_half": [f"f8({_C2}, i8, i8, {_C1}, {_REVERB_LINES})"],
    "audio.dsp.reverb.add_wet": [f"none({_C2}, i8, {_C2})"],
    "audio.dsp.reverb.reverb": [f"f8({_C2}, i8, {_C2}, {_C2}, {_REVERB_LINES})"],
    "audio.dsp.delay.delay": [f"f8({_C2}, i8, {_C2}, {_C2}, {_C1}, i8, f8, f8)"],
    "audio.dsp.limiter.limiter": [
        f"none({_C2}, i8, f8, f8, f4[:, ::1], {_LIM_PARAMS}, {_LIM_STATE})"
    ],
    "audio.dsp.master.master_gain": [f"none({_C2}, i8, f8, f8, f4[:, ::1])"],
    "audio.dsp.master.meter": ["none(f4[:, ::1], i8, f4[::1], f4[::1])"],
    "audio.automation.span": [f"UniTuple(i8, 2)({_I1}, i8, i8, i8)"],
    "audio.automation.apply": [
        f"none({_I1}, {_C1}, {_I1}, {_I1}, {_I1}, i8, b1[:, ::1], {_C1}, {_C1}, {_B1}, {_C2})"
    ],
    "audio.loudness._step_powers": [
        f"none({x}, i8, {_C2}, {_I1}, {_C1})"
        for x in ("f8[:, ::1]", "f4[:, ::1]", "f8[:, :]", "f4[:, :]")
    ],
    "audio.loudness._true_peak": [
        f"f8({x}, i8, i8, {_C2})" for x in ("f8[:, ::1]", "f4[:, ::1]", "f8[:, :]", "f4[:, :]")
    ],
    "core.flacdec._read_planar": [f"i8({_FLAC}, {out}, i8)" for out in ("f4[:, ::1]", "f4[:, :]")],
    "core.flacdec._read_blocks": [f"UniTuple(i8, 2)({_FLAC}, f4[:, ::1], i8[:, ::1])"],
    "audio.device._ring_room": [f"i8({_I1})"],
    "audio.device._ring_put": [f"none({_I1}, f4[:, ::1], f4[:, ::1])"],
}
"""Kernel (module.function) -> the signatures exported for it, "return(arguments)"."""

CALLBACKS: tuple[str, ...] = (
    "audio.device._ring_callback",
    "core.flacdec._on_read",
    "core.flacdec._on_write",
    "core.flacdec._on_error",
)
"""Native callbacks (C function pointers handed to PortAudio and libFLAC): their C signature is
the one in their decorator."""
