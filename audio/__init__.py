"""Encore audio engine: mixing kernel, DSP, transport, device, offline render. No Qt or network."""
