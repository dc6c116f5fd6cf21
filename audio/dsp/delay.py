"""The delay bus: a stereo feedback delay whose time follows the tempo (in beats)."""

from __future__ import annotations

from audio.compiled import kernel
from audio.dsp.constants import _FLUSH


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
