"""The output ring's two sides without a device: the compiled producer (`_ring_room`,
`_ring_put`, the render thread's) and the compiled PortAudio callback (`_ring_callback`, called
here through its C function pointer from a second thread, as PortAudio would). Frames put in
come out intact and in order, and the indices publish only what was written (audio.device's
acquire/release order). Asserts what comes out, never how fast."""

from __future__ import annotations

import ctypes
import threading
import time

import numpy as np

from audio import device

BLOCK = 64
RING_BLOCKS = 4

_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_ulong,
    ctypes.c_void_p,
    ctypes.c_ulong,
    ctypes.c_void_p,
)


def _ring() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    capacity = RING_BLOCKS * BLOCK
    buffer = np.zeros(2 * device._HEADER + 2 * capacity, dtype=np.float32)
    header = buffer[: 2 * device._HEADER].view(np.int64)
    header[device._CAPACITY] = capacity
    return buffer, header, buffer[2 * device._HEADER :].reshape(capacity, 2)


def test_frames_cross_the_ring_intact_and_in_order_between_two_threads():
    buffer, header, ring = _ring()
    callback = _CALLBACK(device._ring_callback.address)
    n_blocks = 3000
    total = n_blocks * BLOCK
    heard = np.zeros((total + BLOCK, 2), dtype=np.float32)
    taken = [0]

    def consume() -> None:  # PortAudio's side: periods of BLOCK frames, short ones zero-filled
        out = np.zeros((BLOCK, 2), dtype=np.float32)
        while taken[0] < total:
            before = int(header[device._READ])
            callback(None, out.ctypes.data, BLOCK, None, 0, buffer.ctypes.data)
            got = int(header[device._READ]) - before
            heard[taken[0] : taken[0] + got] = out[:got]
            assert not out[got:].any()  # what the ring did not have is silence, never old data
            taken[0] += got
            if not got:
                time.sleep(0)

    consumer = threading.Thread(target=consume)
    consumer.start()
    block = np.zeros((BLOCK, 2), dtype=np.float32)
    frame = 0
    while frame < total:  # the render thread's side
        if device._ring_room(header) < BLOCK:
            time.sleep(0)  # let the consumer's thread have the GIL
            continue
        block[:, 0] = np.arange(frame, frame + BLOCK, dtype=np.float32)
        block[:, 1] = -block[:, 0]
        device._ring_put(header, ring, block)
        frame += BLOCK
    consumer.join(60)
    assert not consumer.is_alive()
    want = np.arange(total, dtype=np.float32)
    np.testing.assert_array_equal(heard[:total, 0], want)
    np.testing.assert_array_equal(heard[:total, 1], -want)
    assert int(header[device._WRITE]) == int(header[device._READ]) == total


def test_a_full_ring_has_no_room_and_an_empty_one_plays_silence():
    buffer, header, ring = _ring()
    block = np.ones((BLOCK, 2), dtype=np.float32)
    for _ in range(RING_BLOCKS):
        assert device._ring_room(header) >= BLOCK
        device._ring_put(header, ring, block)
    assert device._ring_room(header) == 0
    callback = _CALLBACK(device._ring_callback.address)
    out = np.full((BLOCK, 2), 7.0, dtype=np.float32)
    for _ in range(RING_BLOCKS):
        callback(None, out.ctypes.data, BLOCK, None, 0, buffer.ctypes.data)
        assert (out == 1.0).all()
    callback(None, out.ctypes.data, BLOCK, None, 0, buffer.ctypes.data)
    assert not out.any()
    assert header[device._SHORT_CALLBACKS] == 1 and header[device._SHORT_FRAMES] == BLOCK
