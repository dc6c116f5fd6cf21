"""Compiled (numba) DSP for the channel strip, the effect buses and the master limiter.

Everything here is a plain function over preallocated arrays: no allocation, no Python objects,
no locks, so it is callable from the audio callback. All state is float64.

Determinism: every loop runs sample by sample in a fixed order (numba compiles without fast-math,
so LLVM neither reassociates sums nor contracts multiply-adds), and nothing depends on where a
block boundary falls *when the controls are constant*. So an offline render gives the same
samples for any block size. (Control changes ramp across the block in which they arrive, so a
*moving* control is block-size dependent, as in any block-based engine.)

Layout: the strip works on "lanes", lane = 2 * stem + channel, stored last (contiguous) in the
state and coefficient arrays, and computes two stems (4 lanes) at a time with explicit F64x4
vectors (see "SIMD vectors" below: LLVM's auto-vectoriser does not manage these loops, and an
element of an IEEE vector operation is bit-identical to the scalar operation). Biquads are
transposed direct form II with normalised coefficients (b0, b1, b2, a1, a2), the same
convention as one row of a scipy `sos` (b0, b1, b2, 1, a1, a2), so `scipy.signal.sosfilt` is
an exact reference.

Denormals: filter, reverb and delay states are flushed to 0 below 1e-30 on every sample (a
decaying tail otherwise walks into subnormals, which cost ~100x on x86).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir as llvm_ir

# numba's names come through audio.compiled: with the ahead-of-time build the kernels are its
# functions and numba is never imported (then these are inert stand-ins).
from audio.compiled import cgutils, intrinsic, kernel, models, overload, register_model, types

# --------------------------------------------------------------------------- strip layout

N_STAGES = 5
STAGE_HP, STAGE_LOW, STAGE_MID, STAGE_HIGH, STAGE_LP = range(N_STAGES)

# Per-stem strip parameters: columns of the (S, N_STRIP) float64 control array.
N_STRIP = 7
P_EQ_LOW, P_EQ_MID, P_EQ_HIGH, P_HP, P_LP, P_SEND_REVERB, P_SEND_DELAY = range(N_STRIP)
STRIP_DEFAULTS = np.array([0.0, 0.0, 0.0, 20.0, 20000.0, 0.0, 0.0])

EQ_LOW_HZ = 120.0  # low shelf corner
EQ_MID_HZ = 1000.0  # peaking centre
EQ_MID_Q = 0.7
EQ_HIGH_HZ = 6000.0  # high shelf corner
SHELF_SLOPE = 1.0
BUTTERWORTH_Q = 1.0 / math.sqrt(2.0)
HP_OFF_HZ = 20.0  # high-pass at or below this: bypassed
LP_OFF_HZ = 20000.0  # low-pass at or above this (or above 0.45 fs): bypassed

# Master bus parameters: the (N_BUS,) float64 control array.
N_BUS = 7
B_REV_SIZE, B_REV_DAMP, B_REV_WET, B_DLY_BEATS, B_DLY_FEEDBACK, B_DLY_WET, B_BPM = range(N_BUS)
BUS_DEFAULTS = np.array([0.5, 0.5, 1.0, 0.75, 0.35, 1.0, 120.0])
MAX_DELAY_SECONDS = 4.0

_FLUSH = 1e-30


# --------------------------------------------------------------------------- coefficients


@kernel
def _identity(out):
    out[0] = 1.0
    out[1] = 0.0
    out[2] = 0.0
    out[3] = 0.0
    out[4] = 0.0


@kernel
def biquad_coefs(stage, value, sr, out):
    """RBJ cookbook biquad for `stage` into out = (b0, b1, b2, a1, a2), normalised by a0.

    `value` is the gain in dB for the EQ stages and the cutoff in Hz for HP/LP. A flat EQ band
    (0 dB) and HP <= 20 Hz / LP >= 20 kHz give the exact identity (bypass).
    """
    if stage == STAGE_HP or stage == STAGE_LP:  # noqa: SIM109 (numba-friendly)
        f0 = value
        if (stage == STAGE_HP and f0 <= HP_OFF_HZ) or (
            stage == STAGE_LP and (f0 >= LP_OFF_HZ or f0 >= 0.45 * sr)
        ):
            _identity(out)
            return
        w0 = 2.0 * math.pi * f0 / sr
        cw = math.cos(w0)
        alpha = math.sin(w0) / (2.0 * BUTTERWORTH_Q)
        a0 = 1.0 + alpha
        if stage == STAGE_HP:
            b0 = (1.0 + cw) / 2.0
            b1 = -(1.0 + cw)
        else:
            b0 = (1.0 - cw) / 2.0
            b1 = 1.0 - cw
        b2 = b0
        a1 = -2.0 * cw
        a2 = 1.0 - alpha
    else:
        if value == 0.0:
            _identity(out)
            return
        a = 10.0 ** (value / 40.0)
        if stage == STAGE_MID:
            w0 = 2.0 * math.pi * EQ_MID_HZ / sr
            cw = math.cos(w0)
            alpha = math.sin(w0) / (2.0 * EQ_MID_Q)
            b0 = 1.0 + alpha * a
            b1 = -2.0 * cw
            b2 = 1.0 - alpha * a
            a0 = 1.0 + alpha / a
            a1 = -2.0 * cw
            a2 = 1.0 - alpha / a
        else:
            f0 = EQ_LOW_HZ if stage == STAGE_LOW else EQ_HIGH_HZ
            w0 = 2.0 * math.pi * f0 / sr
            cw = math.cos(w0)
            alpha = math.sin(w0) / 2.0 * math.sqrt((a + 1.0 / a) * (1.0 / SHELF_SLOPE - 1.0) + 2.0)
            sa = 2.0 * math.sqrt(a) * alpha
            if stage == STAGE_LOW:
                b0 = a * ((a + 1.0) - (a - 1.0) * cw + sa)
                b1 = 2.0 * a * ((a - 1.0) - (a + 1.0) * cw)
                b2 = a * ((a + 1.0) - (a - 1.0) * cw - sa)
                a0 = (a + 1.0) + (a - 1.0) * cw + sa
                a1 = -2.0 * ((a - 1.0) + (a + 1.0) * cw)
                a2 = (a + 1.0) + (a - 1.0) * cw - sa
            else:
                b0 = a * ((a + 1.0) + (a - 1.0) * cw + sa)
                b1 = -2.0 * a * ((a - 1.0) + (a + 1.0) * cw)
                b2 = a * ((a + 1.0) + (a - 1.0) * cw - sa)
                a0 = (a + 1.0) - (a - 1.0) * cw + sa
                a1 = 2.0 * ((a - 1.0) - (a + 1.0) * cw)
                a2 = (a + 1.0) - (a - 1.0) * cw - sa
    out[0] = b0 / a0
    out[1] = b1 / a0
    out[2] = b2 / a0
    out[3] = a1 / a0
    out[4] = a2 / a0


_STRIP_PARAM_OF_STAGE = np.array([P_HP, P_EQ_LOW, P_EQ_MID, P_EQ_HIGH, P_LP])


def stem_sos(strip_row: np.ndarray, sr: float) -> np.ndarray:
    """The (5, 6) scipy `sos` of one stem's filter chain (HP, low, mid, high, LP), for tests and
    offline analysis: exactly the coefficients the engine uses."""
    sos = np.zeros((N_STAGES, 6))
    tmp = np.zeros(5)
    for k in range(N_STAGES):
        biquad_coefs(k, float(strip_row[_STRIP_PARAM_OF_STAGE[k]]), float(sr), tmp)
        sos[k] = [tmp[0], tmp[1], tmp[2], 1.0, tmp[3], tmp[4]]
    return sos


# --------------------------------------------------------------------------- targets


@kernel
def compute_targets(
    gain_db, pan, mute, solo, strip, sr, strip_last, coef_tgt, stage_on, lane_tgt, send_tgt, tmp
):
    """Controls -> per-lane targets. Returns True when the filter coefficients changed.

    lane_tgt (L,): post-fader stem gain incl. equal-power pan (master excluded).
    send_tgt (2, L): send level (reverb, delay) applied to the post-fader lane signal.
    tmp (5,) scratch. Returns 1 when coefficients changed, + 2 if any reverb send is non-zero,
    + 4 if any delay send is non-zero.
    coef_tgt (5, 5, L) is recomputed only for stems whose strip parameters changed.
    """
    n = gain_db.shape[0]
    any_solo = False
    for s in range(n):
        if solo[s]:
            any_solo = True
    quarter_pi = math.pi / 4.0
    cos_c = math.cos(quarter_pi)
    sin_c = math.sin(quarter_pi)
    changed = False
    sends = 0
    for s in range(n):
        lin = 0.0
        if gain_db[s] > -96.0 and not mute[s] and (solo[s] or not any_solo):
            lin = 10.0 ** (gain_db[s] / 20.0)
        p = min(1.0, max(-1.0, pan[s]))
        theta = (p + 1.0) * quarter_pi
        gl = math.cos(theta) * lin / cos_c
        gr = math.sin(theta) * lin / sin_c
        lane_tgt[2 * s] = gl
        lane_tgt[2 * s + 1] = gr
        for j in range(2):
            level = strip[s, P_SEND_REVERB + j]
            send_tgt[j, 2 * s] = level
            send_tgt[j, 2 * s + 1] = level
            if level != 0.0 and lin != 0.0:
                sends |= 2 << j
        same = True
        for j in range(N_STRIP - 2):
            if strip[s, j] != strip_last[s, j]:
                same = False
        if not same:
            changed = True
            for j in range(N_STRIP):
                strip_last[s, j] = strip[s, j]
            for k in range(N_STAGES):
                biquad_coefs(k, strip[s, _STRIP_PARAM_OF_STAGE[k]], sr, tmp)
                for i in range(5):
                    coef_tgt[k, i, 2 * s] = tmp[i]
                    coef_tgt[k, i, 2 * s + 1] = tmp[i]
    if changed:
        for k in range(N_STAGES):
            on = False
            for lane in range(2 * n):
                if (
                    coef_tgt[k, 0, lane] != 1.0
                    or coef_tgt[k, 1, lane] != 0.0
                    or coef_tgt[k, 2, lane] != 0.0
                    or coef_tgt[k, 3, lane] != 0.0
                    or coef_tgt[k, 4, lane] != 0.0
                ):
                    on = True
            stage_on[k] = on
    return (1 if changed else 0) | sends


# --------------------------------------------------------------------------- SIMD vectors
#
# numba has no vector types, and LLVM's loop vectoriser gives up on the lane loops of the strip
# (too many runtime alias checks between the state and coefficient rows, paid per frame). So
# the strip is written with explicit short vectors of float64: F64x4 (two stereo stems, lanes
# 2s..2s+3) and F64x2 (one stereo stem). Each operation below is one LLVM vector instruction
# with no fast-math flags, so every element is computed exactly as the scalar expression would
# be (IEEE add/sub/mul, no contraction into FMA): vector code gives the scalar code's bits.


class _VecType(types.Type):
    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(name=f"F64x{count}")


F64x4 = _VecType(4)
F64x2 = _VecType(2)
_LL_DOUBLE = llvm_ir.DoubleType()
_LL_I32 = llvm_ir.IntType(32)


@register_model(_VecType)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, llvm_ir.VectorType(_LL_DOUBLE, fe_type.count))


def _ll_vec(vt):
    return llvm_ir.VectorType(_LL_DOUBLE, vt.count)


def _splat(builder, value, vt):
    vec = llvm_ir.Constant(_ll_vec(vt), llvm_ir.Undefined)
    for k in range(vt.count):
        vec = builder.insert_element(vec, value, llvm_ir.Constant(_LL_I32, k))
    return vec


def _vt(proto):
    """The vector type a `proto` argument names (a vector value, or the type itself)."""
    if isinstance(proto, types.TypeRef):
        proto = proto.instance_type
    return proto if isinstance(proto, _VecType) else None


def _c_f64(arr, ndim):
    return (
        isinstance(arr, types.Array)
        and arr.dtype == types.float64
        and arr.layout == "C"
        and arr.ndim == ndim
    )


def _vec_ptr(context, builder, sig, args, n_idx, vt):
    """Pointer to arr[idx...] (C-contiguous float64, last index = first vector element)."""
    aryty = sig.args[0]
    ary = context.make_array(aryty)(context, builder, args[0])
    inds = [
        context.cast(builder, v, t, types.intp)
        for v, t in zip(args[1 : 1 + n_idx], sig.args[1 : 1 + n_idx], strict=True)
    ]
    ptr = cgutils.get_item_pointer(context, builder, aryty, ary, inds, wraparound=False)
    return builder.bitcast(ptr, _ll_vec(vt).as_pointer())


@intrinsic
def vload(typingctx, arr, i, j, proto):
    """The vector arr[i, j : j + w] of a C-contiguous float64 2-D array (w = proto's width)."""
    vt = _vt(proto)
    if not (_c_f64(arr, 2) and vt):
        return None

    def codegen(context, builder, sig, args):
        return builder.load(_vec_ptr(context, builder, sig, args, 2, sig.return_type), align=8)

    return vt(arr, i, j, proto), codegen


@intrinsic
def vstore(typingctx, arr, i, j, v):
    """arr[i, j : j + w] = v."""
    if not (_c_f64(arr, 2) and isinstance(v, _VecType)):
        return None

    def codegen(context, builder, sig, args):
        builder.store(args[3], _vec_ptr(context, builder, sig, args, 2, sig.args[3]), align=8)
        return context.get_dummy_value()

    return types.none(arr, i, j, v), codegen


@intrinsic
def vsplat(typingctx, x, proto):
    """(x, x, ...) as proto's vector type."""
    vt = _vt(proto)
    if not (isinstance(x, types.Float) and vt):
        return None

    def codegen(context, builder, sig, args):
        v = context.cast(builder, args[0], sig.args[0], types.float64)
        return _splat(builder, v, sig.return_type)

    return vt(x, proto), codegen


@intrinsic
def vstems(typingctx, block, s, t, proto):
    """Frame t of stem s (and s + 1 for F64x4) of the (S, 2, F) float32 block, as float64
    lanes (L_s, R_s[, L_s+1, R_s+1]). Any layout."""
    if not (
        isinstance(block, types.Array)
        and block.dtype == types.float32
        and block.ndim == 3
        and _vt(proto)
    ):
        return None

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        vt = sig.return_type
        ary = context.make_array(aryty)(context, builder, args[0])
        s = context.cast(builder, args[1], sig.args[1], types.intp)
        t = context.cast(builder, args[2], sig.args[2], types.intp)
        vec = llvm_ir.Constant(_ll_vec(vt), llvm_ir.Undefined)
        for k in range(vt.count):
            sk = builder.add(s, context.get_constant(types.intp, k // 2))
            ck = context.get_constant(types.intp, k % 2)
            ptr = cgutils.get_item_pointer(
                context, builder, aryty, ary, [sk, ck, t], wraparound=False
            )
            x = builder.fpext(builder.load(ptr), _LL_DOUBLE)
            vec = builder.insert_element(vec, x, llvm_ir.Constant(_LL_I32, k))
        return vec

    return _vt(proto)(block, s, t, proto), codegen


def _vec_binop(op):
    def typer(typingctx, a, b):
        if not (isinstance(a, _VecType) and a == b):
            return None

        def codegen(context, builder, sig, args):
            return getattr(builder, op)(args[0], args[1])

        return a(a, b), codegen

    return typer


vadd = intrinsic(_vec_binop("fadd"))
vsub = intrinsic(_vec_binop("fsub"))
vmul = intrinsic(_vec_binop("fmul"))


def _fabs(builder, v):
    fnty = llvm_ir.FunctionType(v.type, [v.type])
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fabs.v{v.type.count}f64")
    return builder.call(fn, [v])


@intrinsic
def vflush(typingctx, a):
    """Per element `a if abs(a) > _FLUSH else 0.0` (NaN -> 0.0, like the scalar form)."""
    if not isinstance(a, _VecType):
        return None

    def codegen(context, builder, sig, args):
        lim = _splat(builder, llvm_ir.Constant(_LL_DOUBLE, _FLUSH), sig.return_type)
        keep = builder.fcmp_ordered(">", _fabs(builder, args[0]), lim)
        return builder.select(keep, args[0], llvm_ir.Constant(args[0].type, None))

    return a(a), codegen


@intrinsic
def vpeak(typingctx, peak, a):
    """Per element `abs(a) if abs(a) > peak else peak` (the scalar running peak)."""
    if not (isinstance(a, _VecType) and a == peak):
        return None

    def codegen(context, builder, sig, args):
        m = _fabs(builder, args[1])
        return builder.select(builder.fcmp_ordered(">", m, args[0]), m, args[0])

    return a(peak, a), codegen


@intrinsic
def vsame(typingctx, c0, c1, a, b):
    """Per element `a if c0 == c1 else b`."""
    if not (isinstance(a, _VecType) and a == b == c0 == c1):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(builder.fcmp_ordered("==", args[0], args[1]), args[2], args[3])

    return a(c0, c1, a, b), codegen


@intrinsic
def vall_eq(typingctx, a, b):
    """True when a == b in every element (ordered: NaN is unequal)."""
    if not (isinstance(a, _VecType) and a == b):
        return None

    def codegen(context, builder, sig, args):
        eq = builder.fcmp_ordered("==", args[0], args[1])
        res = builder.extract_element(eq, llvm_ir.Constant(_LL_I32, 0))
        for k in range(1, sig.args[0].count):
            res = builder.and_(res, builder.extract_element(eq, llvm_ir.Constant(_LL_I32, k)))
        return res

    return types.boolean(a, b), codegen


def _halves(builder, v):
    """The stereo pairs of a vector: [(L, R) of its first stem, (L, R) of its second, ...]."""
    if v.type.count == 2:
        return [v]
    undef = llvm_ir.Constant(v.type, llvm_ir.Undefined)
    return [
        builder.shuffle_vector(
            v, undef, llvm_ir.Constant(llvm_ir.VectorType(_LL_I32, 2), [h, h + 1])
        )
        for h in range(0, v.type.count, 2)
    ]


@intrinsic
def vstemsum(typingctx, acc, a):
    """acc (L, R) plus the stems of a in stem order: ((acc + a[0:2]) + a[2:4])."""
    if not (acc == F64x2 and isinstance(a, _VecType)):
        return None

    def codegen(context, builder, sig, args):
        m = args[0]
        for h in _halves(builder, args[1]):
            m = builder.fadd(m, h)
        return m

    return acc(acc, a), codegen


@intrinsic
def vstemsum_sent(typingctx, acc, a, s0, s1):
    """vstemsum, skipping lanes whose send is off (s0 == 0 and s1 == 0): those add nothing."""
    if not (acc == F64x2 and isinstance(a, _VecType) and a == s0 == s1):
        return None

    def codegen(context, builder, sig, args):
        m = args[0]
        zero = llvm_ir.Constant(args[2].type, None)
        on0 = builder.fcmp_unordered("!=", args[2], zero)
        on1 = builder.fcmp_unordered("!=", args[3], zero)
        on = builder.or_(on0, on1)
        ons = _halves_mask(builder, on)
        for h, o in zip(_halves(builder, args[1]), ons, strict=True):
            m = builder.select(o, builder.fadd(m, h), m)
        return m

    return acc(acc, a, s0, s1), codegen


def _halves_mask(builder, m):
    if m.type.count == 2:
        return [m]
    undef = llvm_ir.Constant(m.type, llvm_ir.Undefined)
    return [
        builder.shuffle_vector(
            m,
            undef,
            llvm_ir.Constant(llvm_ir.VectorType(_LL_I32, 2), [h, h + 1]),
        )
        for h in range(0, m.type.count, 2)
    ]


@intrinsic
def vload1(typingctx, arr, i, proto):
    """The vector arr[i : i + w] of a C-contiguous float64 1-D array."""
    vt = _vt(proto)
    if not (_c_f64(arr, 1) and vt):
        return None

    def codegen(context, builder, sig, args):
        return builder.load(_vec_ptr(context, builder, sig, args, 1, sig.return_type), align=8)

    return vt(arr, i, proto), codegen


@intrinsic
def vstore1(typingctx, arr, i, v):
    """arr[i : i + w] = v."""
    if not (_c_f64(arr, 1) and isinstance(v, _VecType)):
        return None

    def codegen(context, builder, sig, args):
        builder.store(args[2], _vec_ptr(context, builder, sig, args, 1, sig.args[2]), align=8)
        return context.get_dummy_value()

    return types.none(arr, i, v), codegen


@intrinsic
def vgather(typingctx, buf, base, t):
    """(buf[base[0] + t], ...) as F64x4 vectors, four lines per vector: base is a tuple of
    4 * m int64 offsets into the C-contiguous float64 1-D buf; returns an m-tuple of F64x4."""
    if not (_c_f64(buf, 1) and isinstance(base, types.UniTuple) and base.count % 4 == 0):
        return None
    ret = types.UniTuple(F64x4, base.count // 4)

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        t = context.cast(builder, args[2], sig.args[2], types.intp)
        vecs = []
        for v in range(ret.count):
            vec = llvm_ir.Constant(_ll_vec(F64x4), llvm_ir.Undefined)
            for k in range(4):
                i = builder.add(builder.extract_value(args[1], 4 * v + k), t)
                ptr = cgutils.get_item_pointer(
                    context, builder, sig.args[0], ary, [i], wraparound=False
                )
                vec = builder.insert_element(vec, builder.load(ptr), llvm_ir.Constant(_LL_I32, k))
            vecs.append(vec)
        return context.make_tuple(builder, ret, vecs)

    return ret(buf, base, t), codegen


@intrinsic
def vscatter(typingctx, buf, base, t, vecs):
    """buf[base[i] + t] = element i of the vectors (the inverse of vgather)."""
    if not (
        _c_f64(buf, 1)
        and isinstance(base, types.UniTuple)
        and isinstance(vecs, types.UniTuple)
        and vecs.dtype == F64x4
        and base.count == 4 * vecs.count
    ):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        t = context.cast(builder, args[2], sig.args[2], types.intp)
        for v in range(sig.args[3].count):
            vec = builder.extract_value(args[3], v)
            for k in range(4):
                i = builder.add(builder.extract_value(args[1], 4 * v + k), t)
                ptr = cgutils.get_item_pointer(
                    context, builder, sig.args[0], ary, [i], wraparound=False
                )
                builder.store(builder.extract_element(vec, llvm_ir.Constant(_LL_I32, k)), ptr)
        return context.get_dummy_value()

    return types.none(buf, base, t, vecs), codegen


@intrinsic
def vsum_into(typingctx, acc, a):
    """acc + a[0] + a[1] + ... in that order (a float64)."""
    if not (isinstance(acc, types.Float) and isinstance(a, _VecType)):
        return None

    def codegen(context, builder, sig, args):
        m = context.cast(builder, args[0], sig.args[0], types.float64)
        for k in range(sig.args[1].count):
            m = builder.fadd(m, builder.extract_element(args[1], llvm_ir.Constant(_LL_I32, k)))
        return m

    return types.float64(acc, a), codegen


@intrinsic
def vzero_small(typingctx, a):
    """Per element `0.0 if abs(a) < _FLUSH else a` (NaN kept, like the scalar form)."""
    if not isinstance(a, _VecType):
        return None

    def codegen(context, builder, sig, args):
        lim = _splat(builder, llvm_ir.Constant(_LL_DOUBLE, _FLUSH), sig.return_type)
        small = builder.fcmp_ordered("<", _fabs(builder, args[0]), lim)
        return builder.select(small, llvm_ir.Constant(args[0].type, None), args[0])

    return a(a), codegen


def _row_ptr(context, builder, aryty, ary, i):
    ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i], wraparound=False)
    return builder.bitcast(ptr, _ll_vec(F64x4).as_pointer())


@intrinsic
def vrows(typingctx, buf, base, t):
    """(buf[base[j] + t : base[j] + t + 4] for each j): four consecutive frames of each line."""
    if not (_c_f64(buf, 1) and isinstance(base, types.UniTuple)):
        return None
    ret = types.UniTuple(F64x4, base.count)

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        t = context.cast(builder, args[2], sig.args[2], types.intp)
        rows = []
        for j in range(ret.count):
            i = builder.add(builder.extract_value(args[1], j), t)
            rows.append(builder.load(_row_ptr(context, builder, sig.args[0], ary, i), align=8))
        return context.make_tuple(builder, ret, rows)

    return ret(buf, base, t), codegen


@intrinsic
def vstore_rows(typingctx, buf, base, t, rows):
    """buf[base[j] + t : base[j] + t + 4] = rows[j] (the inverse of vrows)."""
    if not (
        _c_f64(buf, 1)
        and isinstance(base, types.UniTuple)
        and isinstance(rows, types.UniTuple)
        and rows.dtype == F64x4
        and rows.count == base.count
    ):
        return None

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        t = context.cast(builder, args[2], sig.args[2], types.intp)
        for j in range(sig.args[3].count):
            i = builder.add(builder.extract_value(args[1], j), t)
            builder.store(
                builder.extract_value(args[3], j),
                _row_ptr(context, builder, sig.args[0], ary, i),
                align=8,
            )
        return context.get_dummy_value()

    return types.none(buf, base, t, rows), codegen


@intrinsic
def vtranspose(typingctx, a, b, c, d):
    """The 4 x 4 transpose of the rows a, b, c, d: (a0 b0 c0 d0), (a1 b1 c1 d1), ..."""
    if not (a == b == c == d == F64x4):
        return None
    ret = types.UniTuple(F64x4, 4)

    def codegen(context, builder, sig, args):
        def shuf(x, y, idx):
            return builder.shuffle_vector(
                x, y, llvm_ir.Constant(llvm_ir.VectorType(_LL_I32, 4), idx)
            )

        ra, rb, rc, rd = args
        t0 = shuf(ra, rb, [0, 4, 2, 6])
        t1 = shuf(ra, rb, [1, 5, 3, 7])
        t2 = shuf(rc, rd, [0, 4, 2, 6])
        t3 = shuf(rc, rd, [1, 5, 3, 7])
        out = [
            shuf(t0, t2, [0, 1, 4, 5]),
            shuf(t1, t3, [0, 1, 4, 5]),
            shuf(t0, t2, [2, 3, 6, 7]),
            shuf(t1, t3, [2, 3, 6, 7]),
        ]
        return context.make_tuple(builder, ret, out)

    return ret(a, b, c, d), codegen


@intrinsic
def vstore_col(typingctx, arr, t, col, v):
    """arr[t + k, col] = v[k] for k < 4 (a C-contiguous float64 2-D arr)."""
    if not (_c_f64(arr, 2) and v == F64x4):
        return None

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        t = context.cast(builder, args[1], sig.args[1], types.intp)
        col = context.cast(builder, args[2], sig.args[2], types.intp)
        for k in range(4):
            tk = builder.add(t, context.get_constant(types.intp, k))
            ptr = cgutils.get_item_pointer(
                context, builder, aryty, ary, [tk, col], wraparound=False
            )
            builder.store(builder.extract_element(args[3], llvm_ir.Constant(_LL_I32, k)), ptr)
        return context.get_dummy_value()

    return types.none(arr, t, col, v), codegen


# --------------------------------------------------------------------------- the strip


@kernel
def _stage_coefs(coef, k, lane, proto):
    c = coef[k]
    return (
        vload(c, 0, lane, proto),
        vload(c, 1, lane, proto),
        vload(c, 2, lane, proto),
        vload(c, 3, lane, proto),
        vload(c, 4, lane, proto),
    )


@kernel
def _stage_deltas(cur, tgt):
    """tgt - cur per coefficient (the ramp's slope; the same value the scalar form computes)."""
    return (
        vsub(tgt[0], cur[0]),
        vsub(tgt[1], cur[1]),
        vsub(tgt[2], cur[2]),
        vsub(tgt[3], cur[3]),
        vsub(tgt[4], cur[4]),
    )


@kernel
def _stage_at(cur, d, r):
    """The ramped coefficients cur + (tgt - cur) * r."""
    return (
        vadd(cur[0], vmul(d[0], r)),
        vadd(cur[1], vmul(d[1], r)),
        vadd(cur[2], vmul(d[2], r)),
        vadd(cur[3], vmul(d[3], r)),
        vadd(cur[4], vmul(d[4], r)),
    )


@kernel
def _biquad(x, z1, z2, c):
    """One transposed-direct-form-II step: (y, z1', z2'), flushed state."""
    y = vadd(vmul(c[0], x), z1)
    v1 = vadd(vsub(vmul(c[1], x), vmul(c[3], y)), z2)
    v2 = vsub(vmul(c[2], x), vmul(c[4], y))
    return y, vflush(v1), vflush(v2)


@kernel
def _strip_sums(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus):
    """One frame of one group's post-fader lanes y onto the stem sum and the sends."""
    zero2 = vsplat(0.0, F64x2)
    m = zero2 if first else vload(mix, t, 0, F64x2)
    vstore(mix, t, 0, vstemsum(m, y))
    if use_rev:
        _send_sum(y, t, r, s0[0], s1[0], 0, first, bus)
    if use_dly:
        _send_sum(y, t, r, s0[1], s1[1], 2, first, bus)


@kernel
def _send_sum(y, t, r, a, b, col, first, bus):
    """One frame of a send: the lanes times their (ramped) send level onto bus[t, col:col + 2]."""
    # No lane ramping (loop-invariant): a itself, which is what vsame would give.
    level = a if vall_eq(a, b) else vsame(a, b, a, vadd(a, vmul(vsub(b, a), r)))
    acc = vsplat(0.0, F64x2) if first else vload(bus, t, col, F64x2)
    vstore(bus, t, col, vstemsum_sent(acc, vmul(y, level), a, b))


def _deliver(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl):
    """Stub: see _deliver_impl (chosen at compile time by the type of xs)."""


@overload(_deliver)
def _deliver_impl(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl):
    """A group's post-fader frame onto the stem sum and sends (xs None), or into xs[t, xl:]
    (deferred sums). A compile-time choice: a run-time branch here costs ~40 % of the strip."""
    if isinstance(xs, types.NoneType):

        def direct(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl):
            _strip_sums(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus)

        return direct

    def deferred(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl):
        vstore(xs, t, xl, y)

    return deferred


@kernel
def _strip_post(y, t, r, g_cur, g_d, ramp_g, pk, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl):
    """Fader (ramped) and peak of one frame of one group of lanes, then _deliver."""
    y = vmul(y, vadd(g_cur, vmul(g_d, r))) if ramp_g else vmul(y, g_cur)
    pk = vpeak(pk, y)
    _deliver(y, t, r, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl)
    return pk


@kernel
def _strip_group(
    block,
    s,
    n,
    coef_cur,
    coef_tgt,
    ramp_coef,
    act,
    z,
    lane_cur,
    lane_tgt,
    ramp_g,
    send_cur,
    send_tgt,
    use_rev,
    use_dly,
    mix,
    bus,
    lane_peak,
    xs,
    xl,
    proto,
):
    """The whole strip for the lanes of stem s (and s + 1 if proto is F64x4), frame by frame:
    the five biquads with their state in registers, fader, peak, and their share of the stem
    sum and the sends, accumulated onto mix / bus in stem order (stem 0 starts the sums at
    0.0). With an array xs the post-fader lanes go to xs[:, xl:] instead (strip_accumulate)."""
    lane = 2 * s
    first = s == 0
    inv_n = 1.0 / n
    a0, a1, a2, a3, a4 = act
    k0 = _stage_coefs(coef_cur, 0, lane, proto)
    k1 = _stage_coefs(coef_cur, 1, lane, proto)
    k2 = _stage_coefs(coef_cur, 2, lane, proto)
    k3 = _stage_coefs(coef_cur, 3, lane, proto)
    k4 = _stage_coefs(coef_cur, 4, lane, proto)
    z10 = vload(z[0], 0, lane, proto)
    z20 = vload(z[0], 1, lane, proto)
    z11 = vload(z[1], 0, lane, proto)
    z21 = vload(z[1], 1, lane, proto)
    z12 = vload(z[2], 0, lane, proto)
    z22 = vload(z[2], 1, lane, proto)
    z13 = vload(z[3], 0, lane, proto)
    z23 = vload(z[3], 1, lane, proto)
    z14 = vload(z[4], 0, lane, proto)
    z24 = vload(z[4], 1, lane, proto)
    g_cur = vload1(lane_cur, lane, proto)
    g_d = vsub(vload1(lane_tgt, lane, proto), g_cur)
    s0 = (vload(send_cur, 0, lane, proto), vload(send_cur, 1, lane, proto))
    s1 = (vload(send_tgt, 0, lane, proto), vload(send_tgt, 1, lane, proto))
    pk = vsplat(0.0, proto)
    if ramp_coef:
        d0 = _stage_deltas(k0, _stage_coefs(coef_tgt, 0, lane, proto))
        d1 = _stage_deltas(k1, _stage_coefs(coef_tgt, 1, lane, proto))
        d2 = _stage_deltas(k2, _stage_coefs(coef_tgt, 2, lane, proto))
        d3 = _stage_deltas(k3, _stage_coefs(coef_tgt, 3, lane, proto))
        d4 = _stage_deltas(k4, _stage_coefs(coef_tgt, 4, lane, proto))
        for t in range(n):
            r = vsplat((t + 1) * inv_n, proto)
            y = vstems(block, s, t, proto)
            if a0:
                y, z10, z20 = _biquad(y, z10, z20, _stage_at(k0, d0, r))
            if a1:
                y, z11, z21 = _biquad(y, z11, z21, _stage_at(k1, d1, r))
            if a2:
                y, z12, z22 = _biquad(y, z12, z22, _stage_at(k2, d2, r))
            if a3:
                y, z13, z23 = _biquad(y, z13, z23, _stage_at(k3, d3, r))
            if a4:
                y, z14, z24 = _biquad(y, z14, z24, _stage_at(k4, d4, r))
            pk = _strip_post(
                y, t, r, g_cur, g_d, ramp_g, pk, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl
            )
    else:
        for t in range(n):
            r = vsplat((t + 1) * inv_n, proto)
            y = vstems(block, s, t, proto)
            if a0:
                y, z10, z20 = _biquad(y, z10, z20, k0)
            if a1:
                y, z11, z21 = _biquad(y, z11, z21, k1)
            if a2:
                y, z12, z22 = _biquad(y, z12, z22, k2)
            if a3:
                y, z13, z23 = _biquad(y, z13, z23, k3)
            if a4:
                y, z14, z24 = _biquad(y, z14, z24, k4)
            pk = _strip_post(
                y, t, r, g_cur, g_d, ramp_g, pk, s0, s1, first, use_rev, use_dly, mix, bus, xs, xl
            )
    vstore(z[0], 0, lane, z10)
    vstore(z[0], 1, lane, z20)
    vstore(z[1], 0, lane, z11)
    vstore(z[1], 1, lane, z21)
    vstore(z[2], 0, lane, z12)
    vstore(z[2], 1, lane, z22)
    vstore(z[3], 0, lane, z13)
    vstore(z[3], 1, lane, z23)
    vstore(z[4], 0, lane, z14)
    vstore(z[4], 1, lane, z24)
    vstore1(lane_peak, lane, pk)


@kernel(nogil=True)
def strip_prepare(n_stems, coef_cur, ramp_coef, stage_on, lane_cur, lane_tgt):
    """(act, ramp_g) for strip_groups: which stages run (a stage is skipped, its state zeroed,
    when it is the identity on every lane and not ramping away from an active one), and
    whether any lane's fader ramps."""
    lanes = 2 * n_stems
    act = (
        stage_on[0] or (ramp_coef and _any_active(coef_cur[0], lanes)),
        stage_on[1] or (ramp_coef and _any_active(coef_cur[1], lanes)),
        stage_on[2] or (ramp_coef and _any_active(coef_cur[2], lanes)),
        stage_on[3] or (ramp_coef and _any_active(coef_cur[3], lanes)),
        stage_on[4] or (ramp_coef and _any_active(coef_cur[4], lanes)),
    )
    ramp_g = False
    for lane in range(lanes):
        if lane_cur[lane] != lane_tgt[lane]:
            ramp_g = True
    return act, ramp_g


@kernel(nogil=True)
def strip_groups(
    block,
    n,
    s_lo,
    s_hi,
    coef_cur,
    coef_tgt,
    ramp_coef,
    act,
    z,
    lane_cur,
    lane_tgt,
    ramp_g,
    send_cur,
    send_tgt,
    use_rev,
    use_dly,
    mix,
    bus,
    lane_peak,
    xs,
):
    """The strip of stems [s_lo, s_hi): two at a time (F64x4), an odd last one as F64x2.

    xs None: their stem sum and sends are accumulated onto mix / bus (which must already hold
    stems [0, s_lo)). xs an array: their post-fader lanes go to xs[:, 0 : 2 * (s_hi - s_lo)]
    for strip_accumulate, so this can run on another thread while stems [0, s_lo) run."""
    s = s_lo
    while s + 2 <= s_hi:
        xl = 2 * (s - s_lo)
        _strip_group(
            block, s, n, coef_cur, coef_tgt, ramp_coef, act, z, lane_cur, lane_tgt, ramp_g,
            send_cur, send_tgt, use_rev, use_dly, mix, bus, lane_peak, xs, xl, F64x4,
        )  # fmt: skip
        s += 2
    if s < s_hi:
        xl = 2 * (s - s_lo)
        _strip_group(
            block, s, n, coef_cur, coef_tgt, ramp_coef, act, z, lane_cur, lane_tgt, ramp_g,
            send_cur, send_tgt, use_rev, use_dly, mix, bus, lane_peak, xs, xl, F64x2,
        )  # fmt: skip


@kernel
def _accumulate_group(n, s, s_lo, xs, send_cur, send_tgt, use_rev, use_dly, mix, bus, proto):
    lane = 2 * s
    inv_n = 1.0 / n
    s0 = (vload(send_cur, 0, lane, proto), vload(send_cur, 1, lane, proto))
    s1 = (vload(send_tgt, 0, lane, proto), vload(send_tgt, 1, lane, proto))
    xl = 2 * (s - s_lo)
    for t in range(n):
        r = vsplat((t + 1) * inv_n, proto)
        _strip_sums(vload(xs, t, xl, proto), t, r, s0, s1, s == 0, use_rev, use_dly, mix, bus)


@kernel(nogil=True)
def strip_accumulate(n, s_lo, s_hi, xs, send_cur, send_tgt, use_rev, use_dly, mix, bus):
    """The deferred sums of strip_groups(xs=array): stems [s_lo, s_hi) onto mix / bus, in
    stem order, with the same grouping and the same operations as the direct path."""
    s = s_lo
    while s + 2 <= s_hi:
        _accumulate_group(n, s, s_lo, xs, send_cur, send_tgt, use_rev, use_dly, mix, bus, F64x4)
        s += 2
    if s < s_hi:
        _accumulate_group(n, s, s_lo, xs, send_cur, send_tgt, use_rev, use_dly, mix, bus, F64x2)


@kernel(nogil=True)
def strip_finish(n_stems, act, ramp_coef, coef_cur, coef_tgt, z, lane_cur, lane_tgt, send_cur,
                 send_tgt):  # fmt: skip
    """After the block: zero the state of skipped stages, and cur = tgt for every ramp."""
    lanes = 2 * n_stems
    for k in range(N_STAGES):
        if not act[k]:
            for lane in range(lanes):
                z[k, 0, lane] = 0.0
                z[k, 1, lane] = 0.0
    if ramp_coef:
        for k in range(N_STAGES):
            for i in range(5):
                for lane in range(lanes):
                    coef_cur[k, i, lane] = coef_tgt[k, i, lane]
    for lane in range(lanes):
        lane_cur[lane] = lane_tgt[lane]
        send_cur[0, lane] = send_tgt[0, lane]
        send_cur[1, lane] = send_tgt[1, lane]


@kernel
def strip_mix(
    block,
    n,
    coef_cur,
    coef_tgt,
    ramp_coef,
    stage_on,
    z,
    lane_cur,
    lane_tgt,
    send_cur,
    send_tgt,
    mix,
    bus,
    use_rev,
    use_dly,
    lane_peak,
):
    """Filters, fader/pan, sends and the stem sum for one block.

    block (S, 2, >=n) float32 in; mix (>=n, 2) and bus (>=n, 4) float64 out (bus = reverb L/R,
    delay L/R; written only for the sends in use). Coefficients, gains and sends ramp linearly
    from cur to tgt across the block, reaching tgt on its last frame; afterwards cur = tgt.
    lane_peak (L,) gets the post-fader peak of each lane.

    Per lane and frame this computes exactly what the scalar reference in tests/test_dsp.py
    (`strip_mix_reference`) does: the biquad stages in order, the post-fader signal, and the
    sums over stems in stem order starting from 0.0. Stems are processed two at a time (F64x4
    vectors), all stages fused per frame with the filter state in registers; the sums are
    accumulated group by group onto mix / bus, which is the same sequence of additions.
    """
    n_stems = block.shape[0]
    act, ramp_g = strip_prepare(n_stems, coef_cur, ramp_coef, stage_on, lane_cur, lane_tgt)
    strip_groups(
        block, n, 0, n_stems, coef_cur, coef_tgt, ramp_coef, act, z, lane_cur, lane_tgt, ramp_g,
        send_cur, send_tgt, use_rev, use_dly, mix, bus, lane_peak, None,
    )  # fmt: skip
    strip_finish(
        n_stems, act, ramp_coef, coef_cur, coef_tgt, z, lane_cur, lane_tgt, send_cur, send_tgt
    )


@kernel
def _any_active(coefs, lanes):
    for lane in range(lanes):
        if (
            coefs[0, lane] != 1.0
            or coefs[1, lane] != 0.0
            or coefs[2, lane] != 0.0
            or coefs[3, lane] != 0.0
            or coefs[4, lane] != 0.0
        ):
            return True
    return False


# --------------------------------------------------------------------------- reverb

# Freeverb (Jezar at Dreampoint, public domain) tunings at 44.1 kHz, scaled to the sample rate.
_COMB_TUNING = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)
_ALLPASS_TUNING = (556, 441, 341, 225)
_STEREO_SPREAD = 23
REVERB_INPUT_GAIN = 0.015


def reverb_lengths(sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(comb lengths (16,), allpass lengths (8,)): left channel first, right = left + spread."""
    scale = sr / 44100.0
    combs = [max(1, round(n * scale)) for n in _COMB_TUNING]
    combs += [max(1, round((n + _STEREO_SPREAD) * scale)) for n in _COMB_TUNING]
    aps = [max(1, round(n * scale)) for n in _ALLPASS_TUNING]
    aps += [max(1, round((n + _STEREO_SPREAD) * scale)) for n in _ALLPASS_TUNING]
    return np.array(combs, dtype=np.int64), np.array(aps, dtype=np.int64)


@kernel
def _comb_step(out, st, inp, d1v, d2v, fb):
    """One frame of four combs: (new damping state, value written back to the line)."""
    st = vzero_small(vadd(vmul(out, d2v), vmul(st, d1v)))
    return st, vadd(inp, vmul(st, fb))


@kernel
def _allpass(ap_buf, o, acc):
    bo = ap_buf[o]
    y = bo - acc
    v = acc + bo * 0.5
    ap_buf[o] = v if abs(v) > _FLUSH else 0.0
    return y


@kernel(nogil=True)
def reverb_half(
    bus,
    n,
    c,
    wet_out,
    comb_buf,
    comb_off,
    comb_len,
    comb_idx,
    comb_store,
    ap_buf,
    ap_off,
    ap_len,
    ap_idx,
    size,
    damp,
    wet,
):
    """Freeverb, one channel c: 8 damped combs in parallel then 4 allpasses on the (mono-summed)
    reverb send bus[:, 0:2], the wet signal into wet_out[:n]. Returns this channel's output peak.

    The channels share only the input, so the two can run on two threads (offline) or one after
    the other (`reverb`, live) with the same bits. Two passes, each in runs of frames in which no
    delay line wraps (so every line's position is base + t): the combs as F64x4 vectors with
    their damping state in registers, then the allpass chain. Per line and frame the arithmetic
    is the scalar Freeverb's, in the same order (each line only touches its own buffer, so
    running all combs before the allpasses changes nothing)."""
    feedback = size * 0.28 + 0.7
    d1 = damp * 0.4
    d2 = 1.0 - d1
    fb = vsplat(feedback, F64x4)
    d1v = vsplat(d1, F64x4)
    d2v = vsplat(d2, F64x4)
    cb = 8 * c
    ab = 4 * c
    st0 = vload1(comb_store, cb, F64x4)
    st1 = vload1(comb_store, cb + 4, F64x4)
    quad = True
    for j in range(cb, cb + 8):
        if comb_len[j] < 4:
            quad = False
    t0 = 0
    while t0 < n:
        m = n - t0
        for j in range(cb, cb + 8):
            m = min(m, comb_len[j] - comb_idx[j])
        b = (
            comb_off[cb] + comb_idx[cb] - t0, comb_off[cb + 1] + comb_idx[cb + 1] - t0,
            comb_off[cb + 2] + comb_idx[cb + 2] - t0, comb_off[cb + 3] + comb_idx[cb + 3] - t0,
            comb_off[cb + 4] + comb_idx[cb + 4] - t0, comb_off[cb + 5] + comb_idx[cb + 5] - t0,
            comb_off[cb + 6] + comb_idx[cb + 6] - t0, comb_off[cb + 7] + comb_idx[cb + 7] - t0,
        )  # fmt: skip
        t = t0
        while quad and t + 4 <= t0 + m:  # four frames at a time, as in `reverb`
            i0 = vsplat((bus[t, 0] + bus[t, 1]) * REVERB_INPUT_GAIN, F64x4)
            i1 = vsplat((bus[t + 1, 0] + bus[t + 1, 1]) * REVERB_INPUT_GAIN, F64x4)
            i2 = vsplat((bus[t + 2, 0] + bus[t + 2, 1]) * REVERB_INPUT_GAIN, F64x4)
            i3 = vsplat((bus[t + 3, 0] + bus[t + 3, 1]) * REVERB_INPUT_GAIN, F64x4)
            rows = vrows(comb_buf, b, t)
            a0, a1, a2, a3 = vtranspose(rows[0], rows[1], rows[2], rows[3])
            b0, b1, b2, b3 = vtranspose(rows[4], rows[5], rows[6], rows[7])
            st0, w0a = _comb_step(a0, st0, i0, d1v, d2v, fb)
            st1, w0b = _comb_step(b0, st1, i0, d1v, d2v, fb)
            st0, w1a = _comb_step(a1, st0, i1, d1v, d2v, fb)
            st1, w1b = _comb_step(b1, st1, i1, d1v, d2v, fb)
            st0, w2a = _comb_step(a2, st0, i2, d1v, d2v, fb)
            st1, w2b = _comb_step(b2, st1, i2, d1v, d2v, fb)
            st0, w3a = _comb_step(a3, st0, i3, d1v, d2v, fb)
            st1, w3b = _comb_step(b3, st1, i3, d1v, d2v, fb)
            wa = vtranspose(w0a, w1a, w2a, w3a)
            wb = vtranspose(w0b, w1b, w2b, w3b)
            vstore_rows(comb_buf, b, t, (wa[0], wa[1], wa[2], wa[3], wb[0], wb[1], wb[2], wb[3]))
            acc = vsplat(0.0, F64x4)
            for j in range(8):
                acc = vadd(acc, rows[j])
            vstore1(wet_out, t, acc)
            t += 4
        while t < t0 + m:
            inp = vsplat((bus[t, 0] + bus[t, 1]) * REVERB_INPUT_GAIN, F64x4)
            o0, o1 = vgather(comb_buf, b, t)
            st0 = vzero_small(vadd(vmul(o0, d2v), vmul(st0, d1v)))
            st1 = vzero_small(vadd(vmul(o1, d2v), vmul(st1, d1v)))
            vscatter(comb_buf, b, t, (vadd(inp, vmul(st0, fb)), vadd(inp, vmul(st1, fb))))
            wet_out[t] = vsum_into(vsum_into(0.0, o0), o1)
            t += 1
        for j in range(cb, cb + 8):
            i = comb_idx[j] + m
            comb_idx[j] = 0 if i >= comb_len[j] else i
        t0 += m
    vstore1(comb_store, cb, st0)
    vstore1(comb_store, cb + 4, st1)
    peak = 0.0
    t0 = 0
    while t0 < n:
        m = n - t0
        for j in range(ab, ab + 4):
            m = min(m, ap_len[j] - ap_idx[j])
        p0 = ap_off[ab] + ap_idx[ab] - t0
        p1 = ap_off[ab + 1] + ap_idx[ab + 1] - t0
        p2 = ap_off[ab + 2] + ap_idx[ab + 2] - t0
        p3 = ap_off[ab + 3] + ap_idx[ab + 3] - t0
        for t in range(t0, t0 + m):
            a = wet_out[t]
            a = _allpass(ap_buf, p0 + t, a)
            a = _allpass(ap_buf, p1 + t, a)
            a = _allpass(ap_buf, p2 + t, a)
            a = _allpass(ap_buf, p3 + t, a)
            w = a * wet
            wet_out[t] = w
            if abs(w) > peak:
                peak = abs(w)
        for j in range(ab, ab + 4):
            i = ap_idx[j] + m
            ap_idx[j] = 0 if i >= ap_len[j] else i
        t0 += m
    return peak


@kernel(nogil=True)
def add_wet(mix, n, wet_out):
    """mix[t, c] += wet_out[c, t]: the reverb's wet channels into the mix."""
    for t in range(n):
        mix[t, 0] += wet_out[0, t]
        mix[t, 1] += wet_out[1, t]


@kernel
def reverb(
    bus,
    n,
    mix,
    wet_out,
    comb_buf,
    comb_off,
    comb_len,
    comb_idx,
    comb_store,
    ap_buf,
    ap_off,
    ap_len,
    ap_idx,
    size,
    damp,
    wet,
):
    """Both channels of `reverb_half` on this thread, wet added to mix (wet_out (2, >= n) is
    scratch). Returns the block's output peak."""
    p0 = reverb_half(
        bus, n, 0, wet_out[0], comb_buf, comb_off, comb_len, comb_idx, comb_store,
        ap_buf, ap_off, ap_len, ap_idx, size, damp, wet,
    )  # fmt: skip
    p1 = reverb_half(
        bus, n, 1, wet_out[1], comb_buf, comb_off, comb_len, comb_idx, comb_store,
        ap_buf, ap_off, ap_len, ap_idx, size, damp, wet,
    )  # fmt: skip
    add_wet(mix, n, wet_out)
    return max(p0, p1)


# --------------------------------------------------------------------------- delay


@kernel
def delay(bus, n, mix, buf, state, d_tgt, feedback, wet):
    """Stereo feedback delay on the delay send bus[:, 2:4]; wet output added to mix.

    state = [write index, current delay in frames]. A change of delay time crossfades the old
    and the new tap across the block (no jump in the read position, no click). Returns the
    block's output peak.
    """
    size = buf.shape[1]
    w = int(state[0])
    d_cur = int(state[1])
    inv_n = 1.0 / n
    peak = 0.0
    for t in range(n):
        for c in range(2):
            rd = w - d_tgt
            if rd < 0:
                rd += size
            y = buf[c, rd]
            if d_cur != d_tgt:
                rc = w - d_cur
                if rc < 0:
                    rc += size
                r = (t + 1) * inv_n
                y = buf[c, rc] * (1.0 - r) + y * r
            v = bus[t, 2 + c] + y * feedback
            buf[c, w] = v if abs(v) > _FLUSH else 0.0
            o = y * wet
            mix[t, c] += o
            if abs(o) > peak:
                peak = abs(o)
        w += 1
        if w >= size:
            w = 0
    state[0] = w
    state[1] = d_tgt
    return peak


# --------------------------------------------------------------------------- limiter

TP_OVERSAMPLE = 4
TP_TAPS = 97  # odd: the interpolator's centre falls on an input sample (phase 0 = identity)
TP_DELAY = (TP_TAPS - 1) // (2 * TP_OVERSAMPLE)  # 8 input samples
LIMITER_CEILING_DBTP = -1.0
LIMITER_MARGIN_DB = 0.3  # the detector aims this far below the ceiling (detector != meter FIR)
LIMITER_LOOKAHEAD = 48  # frames at 48 kHz = 1 ms; scaled with the sample rate
LIMITER_RELEASE_S = 0.08


def true_peak_fir() -> np.ndarray:
    """(TP_OVERSAMPLE - 1, taps) polyphase interpolator for phases 1..3 (phase 0 is the input).

    firwin(TP_TAPS, 1 / TP_OVERSAMPLE, window=("kaiser", 7.0)) * TP_OVERSAMPLE, stored (the
    studio does not import scipy for it): audio/truepeak_taps.py."""
    from audio.truepeak_taps import TAPS

    h = np.array(TAPS)
    taps = -(-TP_TAPS // TP_OVERSAMPLE)
    phases = np.zeros((TP_OVERSAMPLE - 1, taps))
    for p in range(1, TP_OVERSAMPLE):
        ph = h[p::TP_OVERSAMPLE]
        phases[p - 1, : ph.size] = ph
    return phases


def limiter_lookahead(sr: int) -> int:
    return max(8, round(LIMITER_LOOKAHEAD * sr / 48000))


def limiter_latency(sr: int) -> int:
    """Frames between the limiter's input and its output."""
    return limiter_lookahead(sr) - 1 + TP_DELAY


@kernel
def limiter(
    mix,
    n,
    master_cur,
    master_tgt,
    out,
    fir,
    hist,
    hpos,
    req,
    rpos,
    rel,
    dly,
    ipos,
    ceiling,
    release,
    lstate,
    quiet,
):
    """Master gain ramp + stereo-linked true-peak lookahead limiter; float32 result into out.

    Per input frame: the 4x-oversampled peak (input sample and 3 interpolated phases, both
    channels) gives the gain that frame needs, req = min(1, ceiling / peak). Gain = moving
    average over L frames of (the minimum of req over L + 1 frames, with a one-pole release).
    Each averaged term is <= the requirement of the frame being output and of its neighbour,
    so the output never exceeds the ceiling (up to the detector's interpolation error, covered
    by LIMITER_MARGIN_DB), with no instantaneous gain steps. Below the ceiling the gain is
    exactly 1.0 and the output is the input delayed, bit for bit.

    hist (2, 2 * taps) doubled ring of inputs for the FIR; req (L + 1,) ring of requirements
    (init 1); rel (L,) ring of released minima (init 1); dly (2, latency + 1) ring of delayed
    inputs; their positions in hpos, rpos, ipos (1-element int64 arrays). `release` is the
    one-pole coefficient per frame.

    Speed without changing a bit (most frames of most mixes are below the ceiling):
    lstate = [frames since an input sample above `quiet`, req entries != 1, rel entries != 1].
    `quiet` = ceiling / (the interpolator's largest L1 norm, with a margin for rounding), so
    while every input in the FIR window is at or below it, every interpolated phase is
    provably <= ceiling and the requirement is exactly 1.0: the FIR is skipped. While both
    rings hold only 1.0, the minimum is 1.0 and the sum is exactly L: those loops are skipped,
    and while all three hold (quiet and both rings at unity) the frame's gain is L * (1 / L)
    without touching the rings at all. Where the loops run, they run in the original order
    (sums are not reassociated). Ring slots are kept by increment, not a per-frame modulo.
    """
    taps = fir.shape[1]
    n_req = req.shape[0]
    look = rel.shape[0]
    n_dly = dly.shape[1]
    inv_n = 1.0 / n
    inv_look = 1.0 / look
    unity_sum = look * 1.0  # the sum of L ones, exactly
    g_unity = unity_sum * inv_look
    f0 = fir[0]
    f1 = fir[1]
    f2 = fir[2]
    h = hpos[0]
    rp = rpos[0]
    ip = ipos[0]
    since_hot = lstate[0]
    req_hot = lstate[1]
    rel_hot = lstate[2]
    ramp = master_cur != master_tgt
    qi = rp % n_req  # ring slots of frame rp, kept by increment (no per-frame modulo)
    li = rp % look
    for t in range(n):
        m = master_cur
        if ramp:
            m = master_cur + (master_tgt - master_cur) * ((t + 1) * inv_n)
        h -= 1
        if h < 0:
            h = taps - 1
        v0 = mix[t, 0] * m
        v1 = mix[t, 1] * m
        # Doubled ring: hist[c, h + k] is the input k frames ago, for k < taps, unwrapped.
        hist[0, h] = v0
        hist[0, h + taps] = v0
        hist[1, h] = v1
        hist[1, h + taps] = v1
        dly[0, ip] = v0
        dly[1, ip] = v1
        if abs(v0) > quiet or abs(v1) > quiet:
            since_hot = 0
        elif since_hot < taps:
            since_hot += 1
        if since_hot >= taps and req_hot == 0 and rel_hot == 0:
            # Quiet, and both rings hold only 1.0: requirement 1.0, minimum 1.0, released
            # 1.0, sum L. Exactly what the general path below computes, without the work.
            g = g_unity
        else:
            g_need = 1.0
            if since_hot < taps:
                pk = 0.0
                for c in range(2):
                    hc = hist[c]
                    # The centre tap lines up with the input delayed by TP_DELAY frames.
                    centre = hc[h + TP_DELAY]
                    if abs(centre) > pk:
                        pk = abs(centre)
                    a0 = 0.0
                    a1 = 0.0
                    a2 = 0.0
                    for k in range(taps):
                        x = hc[h + k]
                        a0 += f0[k] * x
                        a1 += f1[k] * x
                        a2 += f2[k] * x
                    if abs(a0) > pk:
                        pk = abs(a0)
                    if abs(a1) > pk:
                        pk = abs(a1)
                    if abs(a2) > pk:
                        pk = abs(a2)
                if pk > ceiling:
                    g_need = ceiling / pk
            if req[qi] != 1.0:
                req_hot -= 1
            if g_need != 1.0:
                req_hot += 1
            req[qi] = g_need
            mn = 1.0
            if req_hot > 0:
                for k in range(n_req):
                    if req[k] < mn:
                        mn = req[k]
            prev = rel[li - 1 if li > 0 else look - 1]
            r = mn
            if mn > prev:
                r = prev + (mn - prev) * release
                if r > mn:
                    r = mn
            if rel[li] != 1.0:
                rel_hot -= 1
            if r != 1.0:
                rel_hot += 1
            rel[li] = r
            acc = unity_sum
            if rel_hot > 0:
                acc = 0.0
                for k in range(look):
                    acc += rel[k]
            g = acc * inv_look
        rp += 1
        if rp >= n_req * look:
            rp -= n_req * look
        qi += 1
        if qi >= n_req:
            qi = 0
        li += 1
        if li >= look:
            li = 0
        # Output the sample that entered `latency` frames ago.
        op = ip + 1
        if op >= n_dly:
            op = 0
        out[t, 0] = dly[0, op] * g
        out[t, 1] = dly[1, op] * g
        ip = op
    hpos[0] = h
    rpos[0] = rp
    ipos[0] = ip
    lstate[0] = since_hot
    lstate[1] = req_hot
    lstate[2] = rel_hot


def limiter_quiet_level(fir: np.ndarray, ceiling: float) -> float:
    """The input level at or below which no interpolated phase can exceed `ceiling`: the
    ceiling over the largest L1 norm of a phase (>= 1 for the input phase itself), less a
    margin far above the rounding error of a 25-term float64 sum (~1e-14 relative)."""
    l1 = max(1.0, float(np.abs(fir).sum(axis=1).max()))
    return ceiling / (l1 * (1.0 + 1e-9))


@kernel
def master_gain(mix, n, master_cur, master_tgt, out):
    """Master gain ramp into the float32 output, without the limiter."""
    inv_n = 1.0 / n
    ramp = master_cur != master_tgt
    for t in range(n):
        m = master_cur
        if ramp:
            m = master_cur + (master_tgt - master_cur) * ((t + 1) * inv_n)
        out[t, 0] = mix[t, 0] * m
        out[t, 1] = mix[t, 1] * m


@kernel
def meter(out, n, peak, rms):
    """Peak and RMS per channel of the (>= n, 2) float32 output into the float32 (2,) arrays.

    One compiled pass: numpy's reductions along axis 0 of an (F, 2) array are strided and cost
    ~50 us per call at 4096 frames. The mean square is summed in float64 (meters only: it never
    feeds the audio)."""
    p0 = 0.0
    p1 = 0.0
    s0 = 0.0
    s1 = 0.0
    for t in range(n):
        a = float(out[t, 0])
        b = float(out[t, 1])
        s0 += a * a
        s1 += b * b
        a = abs(a)
        b = abs(b)
        if a > p0:
            p0 = a
        if b > p1:
            p1 = b
    peak[0] = p0
    peak[1] = p1
    inv = 1.0 / n if n > 0 else 0.0
    rms[0] = math.sqrt(s0 * inv)
    rms[1] = math.sqrt(s1 * inv)
