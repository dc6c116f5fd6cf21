"""Explicit float64 SIMD vectors for numba (F64x4, F64x2) as LLVM intrinsics.

numba has no vector types, and LLVM's loop vectoriser gives up on the lane loops of the strip
(too many runtime alias checks between the state and coefficient rows, paid per frame). So
the strip is written with explicit short vectors of float64: F64x4 (two stereo stems, lanes
2s..2s+3) and F64x2 (one stereo stem). Each operation below is one LLVM vector instruction
with no fast-math flags, so every element is computed exactly as the scalar expression would
be (IEEE add/sub/mul, no contraction into FMA): vector code gives the scalar code's bits.

Only the strip and the reverb use them; nothing here knows about audio.
"""

from __future__ import annotations

from llvmlite import ir as llvm_ir

# numba's names come through audio.compiled: with the ahead-of-time build the kernels are its
# functions and numba is never imported (then these are inert stand-ins).
from audio.compiled import cgutils, intrinsic, models, register_model, types
from audio.dsp.constants import _FLUSH


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
