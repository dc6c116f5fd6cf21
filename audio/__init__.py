"""Encore audio engine: mixing kernel, DSP, transport, device and offline render. No Qt, no network."""
