"""Deterministic demo music for Encore's demo mode.

Nothing can be downloaded in demo mode, so the demo catalog is composed here in numpy: a small
band (drums, bass, keys, lead, fx) plays hand-written chord progressions and melodies through an
arrangement of bar-aligned sections. Every random choice comes from a seeded generator, so the
output is identical bit-for-bit on every run and the FLAC files' hashes are stable.

The synthesis is deliberately simple but musical:
  * drums: pitch-swept sine kick, noise+tone snare, filtered-noise hats, velocity/swing/humanise;
  * bass: band-limited wavetable oscillator with a filter envelope (cross-faded static filters);
  * keys: detuned supersaw-ish pads plus an arpeggio, or an FM electric piano;
  * lead: a "vocal" synth - vibrato, portamento and formant filters that morph between vowels;
  * fx: risers/crashes or vinyl crackle.
Everything is vectorised per note (or per stem), and parts without high-frequency content
(pads, electric piano, voice, reverb tails) render at reduced sample rates, so the whole catalog
composes and encodes in a few seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

GENERATOR_VERSION = 1  # bump whenever the rendered audio changes: it invalidates cached catalogs
SAMPLE_RATE = 48000
ARTIST = "Mara Vale"

_SR = SAMPLE_RATE
_CATALOG_FILE = "catalog.json"


# --------------------------------------------------------------------------------------------
# Public data model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoStem:
    id: str
    name: str
    kind: str  # drums, bass, keys, lead, vocals, fx, other
    audio: np.ndarray  # float32, shape (frames, 2), 48 kHz


@dataclass(frozen=True)
class DemoTrack:
    id: str
    title: str
    artist: str
    bpm: float
    key: str
    beats_per_bar: int
    first_beat: float
    sections: list[tuple[str, float, float]]
    stems: list[DemoStem]


# --------------------------------------------------------------------------------------------
# Music theory: notes, chords, phrases
# --------------------------------------------------------------------------------------------

_LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
}
_CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7),
    "m": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10),
    "9": (0, 4, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "m9": (0, 3, 7, 10, 14),
}
_NOTE_RE = re.compile(r"^([A-G])([#b]?)(-?\d)?$")


def pitch_class(name: str) -> int:
    """'F#' -> 6. Accepts an optional octave digit, which is ignored."""
    match = _NOTE_RE.match(name)
    if not match:
        raise ValueError(f"bad note name {name!r}")
    letter, accidental, _ = match.groups()
    return (_LETTERS[letter] + {"#": 1, "b": -1, "": 0}[accidental]) % 12


def note_to_midi(name: str) -> int:
    """'A4' -> 69 (scientific pitch notation, C4 = 60)."""
    match = _NOTE_RE.match(name)
    if not match or match.group(3) is None:
        raise ValueError(f"bad note name {name!r}")
    letter, accidental, octave = match.groups()
    return _LETTERS[letter] + {"#": 1, "b": -1, "": 0}[accidental] + 12 * (int(octave) + 1)


def midi_to_hz(midi: float | np.ndarray) -> Any:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class
    intervals: tuple[int, ...]

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in self.intervals)


def parse_chord(symbol: str) -> Chord:
    """'F#m7' -> Chord(6, (0, 3, 7, 10))."""
    match = re.match(r"^([A-G][#b]?)(.*)$", symbol)
    if not match or match.group(2) not in _CHORD_QUALITIES:
        raise ValueError(f"unknown chord {symbol!r}")
    return Chord(pitch_class(match.group(1)), _CHORD_QUALITIES[match.group(2)])


def scale_pitch_classes(tonic: str, mode: str) -> set[int]:
    root = pitch_class(tonic)
    return {(root + step) % 12 for step in SCALES[mode]}


def parse_phrase(text: str, beats_per_bar: int) -> list[list[tuple[float, float, int | None]]]:
    """Parse 'E5:1 D5:0.5 r:2.5 | ...' into bars of (beat offset, beats, midi or None = rest).

    Bars are separated by '|' and must each add up to exactly one bar, which catches typos in
    the hand-written melodies below at import/test time instead of as a lurching rhythm.
    """
    bars: list[list[tuple[float, float, int | None]]] = []
    for bar_text in text.split("|"):
        beat = 0.0
        events: list[tuple[float, float, int | None]] = []
        for token in bar_text.split():
            name, _, length = token.partition(":")
            beats = float(length)
            events.append((beat, beats, None if name == "r" else note_to_midi(name)))
            beat += beats
        if abs(beat - beats_per_bar) > 1e-9:
            raise ValueError(f"bar {bar_text.strip()!r} has {beat} beats, not {beats_per_bar}")
        bars.append(events)
    return bars


# --------------------------------------------------------------------------------------------
# Song specification: sections, arrangement, tracks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A bar-aligned part of the song. `parts` maps a stem kind to the pattern it plays there;
    a kind missing from `parts` rests for the whole section (that is the arrangement)."""

    name: str
    bars: int
    chords: tuple[str, ...]  # one chord per bar, cycled
    parts: dict[str, str]
    melody: str = ""  # phrase text for the lead, cycled by bar


@dataclass(frozen=True)
class TrackSpec:
    id: str
    title: str
    bpm: float
    tonic: str
    mode: str
    style: str  # selects the band: "synthwave" or "lofi"
    seed: int
    swing: float  # delay of odd 16ths as a fraction of a 16th
    sections: tuple[Section, ...]
    stems: tuple[tuple[str, str], ...]  # (kind, display name) in catalog order
    beats_per_bar: int = 4
    first_beat: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.tonic} {self.mode}"

    @property
    def beat_s(self) -> float:
        return 60.0 / self.bpm

    @property
    def bar_s(self) -> float:
        return self.beat_s * self.beats_per_bar

    @property
    def total_bars(self) -> int:
        return sum(s.bars for s in self.sections)

    @property
    def frames(self) -> int:
        return round((self.first_beat + self.total_bars * self.bar_s) * _SR)

    def section_times(self) -> list[tuple[str, float, float]]:
        """(name, start_s, end_s) per section; the last one ends exactly at the last frame."""
        out = []
        bar = 0
        for section in self.sections:
            start = 0.0 if bar == 0 else self.first_beat + bar * self.bar_s
            bar += section.bars
            out.append((section.name, start, self.first_beat + bar * self.bar_s))
        name, start, _ = out[-1]
        out[-1] = (name, start, self.frames / _SR)
        return out


_NEON_VERSE = (
    "r:1 E5:0.5 D5:0.5 C5:1 A4:1 | C5:1.5 A4:0.5 C5:1 D5:1 | E5:1.5 G5:0.5 E5:1 D5:0.5 C5:0.5 |"
    " D5:3 r:1 | r:1 E5:0.5 D5:0.5 C5:1 A4:1 | C5:1.5 A4:0.5 F5:1 E5:1 | E5:1 D5:1 C5:1 B4:1 |"
    " G4:1 B4:1 D5:2"
)
_NEON_CHORUS = (
    "A5:1.5 G5:0.5 F5:1 E5:1 | D5:1.5 E5:0.5 G5:2 | G5:1.5 E5:0.5 D5:1 E5:1 | E5:3 r:1 |"
    " A5:1.5 G5:0.5 F5:1 E5:1 | D5:1.5 E5:0.5 G5:1 A5:1 | B5:1 A5:1 G5:1 E5:1 | A5:3 r:1"
)
_NEON_BREAKDOWN = "C5:2 A4:1 C5:1 | D5:2 B4:1 D5:1 | E5:1.5 D5:0.5 B4:2 | A4:3 r:1"

_LOFI_VERSE = (
    "r:1 F#4:0.5 A4:0.5 C#5:1 A4:1 | B4:1.5 A4:0.5 F#4:2 | r:1 G4:0.5 B4:0.5 D5:1 B4:1 |"
    " C#5:1.5 B4:0.5 A4:2 | r:1 F#4:0.5 A4:0.5 C#5:1 E5:1 | D5:1.5 C#5:0.5 B4:2 |"
    " r:0.5 E4:0.5 G4:0.5 B4:0.5 D5:1 E5:1 | C#5:2 r:2"
)
_LOFI_CHORUS = (
    "r:0.5 B4:0.5 D5:0.5 F#5:1.5 E5:1 | C#5:1 E5:0.5 C#5:0.5 A4:2 |"
    " r:0.5 G4:0.5 B4:0.5 D5:1 E5:0.5 F#5:1 | E5:2.5 r:1.5 | r:0.5 B4:0.5 D5:0.5 F#5:1.5 A5:1 |"
    " A5:1 F#5:0.5 E5:0.5 C#5:2 | r:0.5 B4:0.5 D5:0.5 E5:1 G5:0.5 F#5:1 | E5:1 C#5:1 A4:2"
)

_NEON_VERSE_CHORDS = ("Am", "F", "C", "G")
_NEON_CHORUS_CHORDS = ("F", "G", "Em", "Am")
_LOFI_VERSE_CHORDS = ("Dmaj9", "Bm9", "Em9", "A9")
_LOFI_CHORUS_CHORDS = ("Gmaj9", "F#m7", "Em9", "A9")

TRACK_SPECS: tuple[TrackSpec, ...] = (
    TrackSpec(
        id="neon-harbor",
        title="Neon Harbor",
        bpm=120.0,
        tonic="A",
        mode="minor",
        style="synthwave",
        seed=1207,
        swing=0.0,
        stems=(
            ("drums", "Drums"),
            ("bass", "Bass"),
            ("keys", "Synth Pads"),
            ("lead", "Vocal Synth"),
            ("fx", "FX"),
        ),
        sections=(
            Section("intro", 4, _NEON_VERSE_CHORDS, {"keys": "pad", "fx": "riser"}),
            Section(
                "verse",
                8,
                _NEON_VERSE_CHORDS,
                {"drums": "verse", "bass": "eighths", "keys": "pad", "lead": "vox"},
                _NEON_VERSE,
            ),
            Section(
                "chorus",
                8,
                _NEON_CHORUS_CHORDS,
                {
                    "drums": "full",
                    "bass": "octaves",
                    "keys": "pad+arp",
                    "lead": "vox",
                    "fx": "crash",
                },
                _NEON_CHORUS,
            ),
            Section(
                "breakdown",
                4,
                _NEON_CHORUS_CHORDS,
                {"keys": "pad", "lead": "vox", "fx": "riser"},
                _NEON_BREAKDOWN,
            ),
            Section(
                "chorus",
                8,
                _NEON_CHORUS_CHORDS,
                {
                    "drums": "full",
                    "bass": "octaves",
                    "keys": "pad+arp",
                    "lead": "vox",
                    "fx": "crash",
                },
                _NEON_CHORUS,
            ),
            Section("outro", 4, ("Am", "F", "G", "Am"), {"drums": "outro", "keys": "pad+arp"}),
        ),
    ),
    TrackSpec(
        id="paper-lanterns",
        title="Paper Lanterns",
        bpm=92.0,
        tonic="D",
        mode="major",
        style="lofi",
        seed=9203,
        swing=0.32,
        stems=(
            ("drums", "Drums"),
            ("bass", "Bass"),
            ("keys", "Electric Piano"),
            ("lead", "Hum Melody"),
            ("fx", "Vinyl"),
        ),
        sections=(
            Section("intro", 2, ("Gmaj9", "A9"), {"keys": "sustain", "fx": "vinyl"}),
            Section(
                "verse",
                8,
                _LOFI_VERSE_CHORDS,
                {"drums": "boom", "bass": "walk", "keys": "comp", "lead": "hum", "fx": "vinyl"},
                _LOFI_VERSE,
            ),
            Section(
                "chorus",
                8,
                _LOFI_CHORUS_CHORDS,
                {"drums": "busy", "bass": "walk", "keys": "comp", "lead": "hum", "fx": "vinyl"},
                _LOFI_CHORUS,
            ),
            Section("break", 2, ("Em9", "A9"), {"bass": "walk", "keys": "sustain", "fx": "vinyl"}),
            Section(
                "chorus",
                8,
                _LOFI_CHORUS_CHORDS,
                {"drums": "busy", "bass": "walk", "keys": "comp", "lead": "hum", "fx": "vinyl"},
                _LOFI_CHORUS,
            ),
            Section("outro", 2, ("Gmaj9", "Dmaj9"), {"keys": "sustain", "fx": "vinyl"}),
        ),
    ),
)


@dataclass(frozen=True)
class _Bar:
    """One bar of the timeline with everything a pattern needs to decide what to play."""

    index: int
    start: float  # seconds
    chord: Chord
    next_chord: Chord
    section: Section
    bar_in_section: int

    @property
    def last_in_section(self) -> bool:
        return self.bar_in_section == self.section.bars - 1


def _timeline(spec: TrackSpec) -> list[_Bar]:
    flat: list[tuple[Section, int, Chord]] = []
    for section in spec.sections:
        for i in range(section.bars):
            flat.append((section, i, parse_chord(section.chords[i % len(section.chords)])))
    bars = []
    for index, (section, i, chord) in enumerate(flat):
        next_chord = flat[min(index + 1, len(flat) - 1)][2]
        start = spec.first_beat + index * spec.bar_s
        bars.append(_Bar(index, start, chord, next_chord, section, i))
    return bars


def _step_time(spec: TrackSpec, bar: _Bar, step: float) -> float:
    """Time of a 16th-note step in a bar, with the track's swing applied to odd 16ths."""
    sixteenth = spec.beat_s / 4
    swing = spec.swing * sixteenth if int(step) % 2 == 1 and step == int(step) else 0.0
    return bar.start + step * sixteenth + swing


@dataclass(frozen=True)
class _Note:
    start: float  # seconds
    dur: float  # seconds (gate length; release comes on top)
    midi: float
    vel: float = 1.0


# --------------------------------------------------------------------------------------------
# DSP building blocks
# --------------------------------------------------------------------------------------------


def _fade_in(n: int) -> np.ndarray:
    """Raised-cosine 0 -> 1 ramp; short ones make note on/off click-free."""
    if n <= 0:
        return np.ones(0)
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)


def _adsr(
    gate_n: int, attack: float, decay: float, sustain: float, release: float, sr: int = _SR
) -> np.ndarray:
    """Gate-length envelope plus a release tail that always ends at exactly zero."""
    gate_n = max(gate_n, 1)
    t = np.arange(gate_n) / sr
    env = sustain + (1.0 - sustain) * np.exp(-t / decay) if decay > 0 else np.ones(gate_n)
    a = min(gate_n, max(1, int(attack * sr)))
    env[:a] *= _fade_in(a)
    tail = env[-1] * _fade_in(max(1, int(release * sr)))[::-1]
    return np.concatenate([env, tail])


def _perc_env(n: int, attack: float, decay: float) -> np.ndarray:
    """Exponential decay with a soft attack and a short fade at the end (no truncation click)."""
    t = np.arange(n) / _SR
    env = np.exp(-t / decay)
    a = max(1, int(attack * _SR))
    env[:a] *= _fade_in(a)
    f = min(n, int(0.004 * _SR))
    env[n - f :] *= _fade_in(f)[::-1]
    return env


def _add(out: np.ndarray, start: int, sig: np.ndarray) -> None:
    """Mix `sig` into `out` at sample `start` (time is the last axis), clipping the overhang."""
    if start < 0:
        sig = sig[..., -start:]
        start = 0
    end = min(out.shape[-1], start + sig.shape[-1])
    if end > start:
        out[..., start:end] += sig[..., : end - start]


def _pan(mono: np.ndarray, position: float | np.ndarray) -> np.ndarray:
    """Equal-power pan (-1 left .. +1 right) to a (2, n) array: constant power, so a mono
    fold-down keeps every element's level. Internally stereo is channel-first for speed."""
    theta = (np.asarray(position) + 1.0) * np.pi / 4
    return np.stack([mono * np.cos(theta), mono * np.sin(theta)])


def _pan_into(out: np.ndarray, mono: np.ndarray, position: float | np.ndarray) -> np.ndarray:
    """`out += _pan(mono, position)` without a full-length stereo temporary (fresh big arrays
    cost page faults, which dominate the render time on small VMs)."""
    theta = (np.asarray(position) + 1.0) * np.pi / 4
    out[0] += mono * np.cos(theta)
    out[1] += mono * np.sin(theta)
    return out


def _scipy_signal():
    """scipy.signal, imported when music is composed: a platform whose demo catalog is already
    on disk starts without it (about a second of import on this machine)."""
    from scipy import signal

    return signal


@lru_cache(maxsize=64)
def _sos(btype: str, freq: float | tuple[float, float], order: int, sr: int) -> np.ndarray:
    return _scipy_signal().butter(order, freq, btype=btype, fs=sr, output="sos")


def _filt(
    x: np.ndarray, btype: str, freq: float | tuple[float, float], order: int = 2, sr: int = _SR
) -> np.ndarray:
    """Butterworth filter along time (last axis); designs are cached."""
    return _scipy_signal().sosfilt(_sos(btype, freq, order, sr), x, axis=-1)


def _smooth(x: np.ndarray, seconds: float, sr: int = _SR) -> np.ndarray:
    """One-pole smoother (portamento, vowel morphs, sidechain release)."""
    a = np.exp(-1.0 / (seconds * sr))
    zi = np.array([x[0] * a]) if len(x) else None
    y, _ = _scipy_signal().lfilter([1 - a], [1, -a], x, zi=zi)
    return y


@lru_cache(maxsize=8)
def _resample_fir(rate: int, taps_per_phase: int) -> np.ndarray:
    """Short Kaiser low-pass for resample_poly: the parts rendered at reduced rates have no
    content near their Nyquist frequency, so a few taps per phase are plenty (and faster)."""
    return _scipy_signal().firwin(taps_per_phase * rate + 1, 0.9 / rate, window=("kaiser", 7.0))


def _resample(x: np.ndarray, up: int, down: int, taps_per_phase: int = 10) -> np.ndarray:
    fir = _resample_fir(max(up, down), taps_per_phase)
    return _scipy_signal().resample_poly(x, up, down, axis=-1, window=fir)


_TABLE_SIZE = 4096


@lru_cache(maxsize=64)
def _wavetable(shape: str, harmonics: int) -> np.ndarray:
    """Band-limited single-cycle table (one extra sample for interpolation), peak 1."""
    k = np.arange(1, harmonics + 1)
    if shape == "saw":
        amps = 1.0 / k
    elif shape == "square":
        amps = np.where(k % 2 == 1, 1.0 / k, 0.0)
    elif shape == "triangle":
        amps = np.where(k % 2 == 1, (-1.0) ** ((k - 1) // 2) / k**2, 0.0)
    elif shape == "warm":  # sine with a little 2nd/3rd harmonic: round bass and hums
        amps = np.where(k == 1, 1.0, np.where(k == 2, 0.35, np.where(k == 3, 0.12, 0.0)))
    else:
        raise ValueError(shape)
    phase = np.arange(_TABLE_SIZE + 1) / _TABLE_SIZE
    table = amps @ np.sin(2 * np.pi * np.outer(k, phase))
    return table / np.max(np.abs(table))


def _osc(shape: str, cycles: np.ndarray, max_hz: float, nyquist: float = 20000.0) -> np.ndarray:
    """Wavetable oscillator driven by a phase in cycles; harmonics stop below the Nyquist
    frequency (18 kHz at 48 kHz), so there is no aliasing."""
    harmonics = max(1, min(64, int(0.9 * nyquist / max(max_hz, 1.0))))
    harmonics = 1 << (harmonics.bit_length() - 1)  # power of two: few cached tables
    table = _wavetable(shape, harmonics)
    pos = (cycles % 1.0) * _TABLE_SIZE
    i = pos.astype(np.int64)
    frac = pos - i
    return table[i] + frac * (table[i + 1] - table[i])


_REVERB_DOWN = 3  # reverb runs at 16 kHz: its tail is lowpassed anyway, and it is 3x cheaper


def _reverb_into(out: np.ndarray, mono: np.ndarray, seconds: float, seed: int) -> np.ndarray:
    """Add a stereo convolution reverb of `mono` (decaying-noise impulse response) to `out`.

    Left and right use independent noise, which gives width that still sums to mono as just
    another (mono) reverb instead of comb-filtering.
    """
    sr = _SR // _REVERB_DOWN
    rng = np.random.default_rng(seed)
    m = int(seconds * sr)
    t = np.arange(m) / sr
    ir = rng.standard_normal((2, m)) * np.exp(-6.9 * t / seconds)
    ir[:, : int(0.012 * sr)] = 0.0  # pre-delay keeps the dry attack clear
    ir = _filt(_filt(ir, "lowpass", 5500.0, 2, sr), "highpass", 250.0, 2, sr)
    ir /= np.sqrt(np.sum(ir**2, axis=1, keepdims=True))
    low = _resample(mono, 1, _REVERB_DOWN, 6)  # a diffuse tail hides any resampling error
    from scipy import fft as sp_fft  # late, as _scipy_signal

    size = sp_fft.next_fast_len(len(low) + m, real=True)
    spectrum = sp_fft.rfft(low.astype(np.float32), size)
    ir_spectrum = sp_fft.rfft(ir.astype(np.float32), size, axis=1)
    wet = sp_fft.irfft(spectrum * ir_spectrum, size, axis=1)[:, : len(low)]
    for channel in range(2):
        full = _resample(wet[channel].astype(np.float64), _REVERB_DOWN, 1, 6)[: len(mono)]
        out[channel, : len(full)] += full
    return out


def _delayed(x: np.ndarray, samples: int) -> np.ndarray:
    out = np.zeros_like(x)
    out[..., samples:] = x[..., : x.shape[-1] - samples]
    return out


# --------------------------------------------------------------------------------------------
# Drums
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DrumKit:
    kick_hz: tuple[float, float]  # pitch sweep start -> end
    kick_sweep: float  # seconds of the pitch drop
    kick_decay: float
    kick_drive: float
    snare_hz: float
    snare_decay: float
    snare_band: tuple[float, float]
    hat_hz: float  # highpass for the hat noise
    hat_decay: float
    open_decay: float
    tone_hz: float  # final lowpass: bright (synthwave) vs dusty (lofi)
    reverb: float  # snare reverb send
    reverb_s: float
    jitter: float  # humanise, seconds (std)


_SYNTHWAVE_KIT = DrumKit(
    kick_hz=(160.0, 46.0),
    kick_sweep=0.035,
    kick_decay=0.22,
    kick_drive=2.0,
    snare_hz=190.0,
    snare_decay=0.17,
    snare_band=(1200.0, 9000.0),
    hat_hz=7500.0,
    hat_decay=0.035,
    open_decay=0.22,
    tone_hz=16000.0,
    reverb=0.55,
    reverb_s=0.9,
    jitter=0.0015,
)
_LOFI_KIT = DrumKit(
    kick_hz=(120.0, 52.0),
    kick_sweep=0.045,
    kick_decay=0.2,
    kick_drive=1.4,
    snare_hz=210.0,
    snare_decay=0.11,
    snare_band=(900.0, 5000.0),
    hat_hz=4500.0,
    hat_decay=0.03,
    open_decay=0.16,
    tone_hz=9000.0,
    reverb=0.25,
    reverb_s=0.7,
    jitter=0.006,
)


def _kick(kit: DrumKit, rng: np.random.Generator) -> np.ndarray:
    n = int(kit.kick_decay * 5 * _SR)
    t = np.arange(n) / _SR
    f0, f1 = kit.kick_hz
    freq = f1 + (f0 - f1) * np.exp(-t / kit.kick_sweep)
    body = np.sin(2 * np.pi * np.cumsum(freq) / _SR)
    click = _filt(rng.standard_normal(n), "highpass", 2500.0) * np.exp(-t / 0.003) * 0.25
    x = np.tanh(kit.kick_drive * (body + click)) * _perc_env(n, 0.001, kit.kick_decay)
    return x / np.max(np.abs(x))


def _snare(kit: DrumKit, rng: np.random.Generator) -> np.ndarray:
    n = int(kit.snare_decay * 5 * _SR)
    t = np.arange(n) / _SR
    tone = np.sin(2 * np.pi * kit.snare_hz * t) + 0.5 * np.sin(2 * np.pi * kit.snare_hz * 1.6 * t)
    tone *= np.exp(-t / 0.045)
    noise = _filt(rng.standard_normal(n), "bandpass", kit.snare_band) * 1.6
    x = (0.6 * tone + noise * np.exp(-t / kit.snare_decay)) * _perc_env(n, 0.0008, 10.0)
    return x / np.max(np.abs(x))


def _hat(kit: DrumKit, rng: np.random.Generator, decay: float) -> np.ndarray:
    n = int(decay * 6 * _SR)
    x = _filt(rng.standard_normal(n), "highpass", kit.hat_hz, 4) * _perc_env(n, 0.0005, decay)
    return x / np.max(np.abs(x))


# (step in 16ths, voice, velocity); voices: kick, snare, hat, open
_Hit = tuple[float, str, float]


def _synthwave_drum_bar(variant: str, bar: _Bar, rng: np.random.Generator) -> list[_Hit]:
    """Four-on-the-floor with 2-and-4 snare; the chorus adds 16th hats and open offbeats."""
    hits: list[_Hit] = [(s, "kick", 1.0) for s in (0, 4, 8, 12)]
    if variant in ("verse", "full"):
        hits += [(4, "snare", 1.0), (12, "snare", 1.0)]
    if variant == "full":
        for s in range(16):
            if s % 4 == 2:
                hits.append((s, "open", 0.55))
            else:
                hits.append((s, "hat", (0.9 if s % 2 == 0 else 0.45) * rng.uniform(0.85, 1.0)))
    else:
        hits += [
            (s, "hat", (0.8 if s % 4 == 0 else 0.6) * rng.uniform(0.85, 1.0))
            for s in range(0, 16, 2)
        ]
    if bar.last_in_section and variant != "outro":
        hits += [(13, "snare", 0.45), (14, "snare", 0.65), (15, "snare", 0.85)]
    return hits


def _lofi_drum_bar(variant: str, bar: _Bar, rng: np.random.Generator) -> list[_Hit]:
    """Boom-bap: kick on 1 and 3 with lazy pickups, snare on 2 and 4, ghost notes and swung,
    uneven 16th hats accented on the beat."""
    odd_bar = bar.bar_in_section % 2 == 1
    hits: list[_Hit] = [(0, "kick", 1.0), (8, "kick", 0.8)]
    if odd_bar:
        hits.append((10, "kick", 0.6))
    if variant == "busy" and bar.bar_in_section % 4 == 3:
        hits.append((14, "kick", 0.55))
    hits += [(4, "snare", 0.9), (12, "snare", 0.95)]
    if rng.random() < 0.5:
        hits.append((15, "snare", 0.16))
    accents = (0.8, 0.2, 0.45, 0.25)
    for s in range(16):
        if s % 2 == 1 and rng.random() < (0.35 if variant == "boom" else 0.15):
            continue
        if variant == "busy" and s == 14 and odd_bar:
            hits.append((s, "open", 0.4))
            continue
        hits.append((s, "hat", accents[s % 4] * rng.uniform(0.8, 1.05)))
    return hits


_DRUM_PATTERNS: dict[str, Callable[[str, _Bar, np.random.Generator], list[_Hit]]] = {
    "synthwave": _synthwave_drum_bar,
    "lofi": _lofi_drum_bar,
}
_DRUM_KITS = {"synthwave": _SYNTHWAVE_KIT, "lofi": _LOFI_KIT}
# voice -> (bus gain, pan)
_DRUM_MIX = {"kick": (1.0, 0.0), "snare": (0.75, -0.05), "hat": (0.8, 0.3), "open": (0.55, -0.25)}


def _drum_hits(spec: TrackSpec, bars: list[_Bar], seed: int) -> list[tuple[float, str, float]]:
    """All drum hits of the track as (seconds, voice, velocity)."""
    rng = np.random.default_rng(seed)
    kit = _DRUM_KITS[spec.style]
    out = []
    for bar in bars:
        variant = bar.section.parts.get("drums")
        if variant is None:
            continue
        for step, voice, vel in _DRUM_PATTERNS[spec.style](variant, bar, rng):
            t = _step_time(spec, bar, step) + (rng.normal(0, kit.jitter) if step else 0.0)
            out.append((max(t, 0.0), voice, vel))
    return out


def _render_drums(hits: list[tuple[float, str, float]], kit: DrumKit, n: int, seed: int):
    rng = np.random.default_rng(seed)
    # A few takes per voice so repeated hits are not sample-identical (like a real kit).
    takes = {
        "kick": [_kick(kit, rng) for _ in range(2)],
        "snare": [_snare(kit, rng) for _ in range(4)],
        "hat": [_hat(kit, rng, kit.hat_decay) for _ in range(6)],
        "open": [_hat(kit, rng, kit.open_decay) for _ in range(2)],
    }
    buses = {voice: np.zeros(n) for voice in takes}
    for t, voice, vel in hits:
        options = takes[voice]
        _add(buses[voice], round(t * _SR), options[rng.integers(len(options))] * vel)
    out = np.zeros((2, n))
    for voice, bus in buses.items():
        gain, position = _DRUM_MIX[voice]
        _pan_into(out, bus * gain, position)
    snare_send = buses["snare"] * kit.reverb * _DRUM_MIX["snare"][0]
    _reverb_into(out, snare_send, kit.reverb_s, seed + 1)
    if kit.tone_hz < 15000:
        for channel in range(2):
            out[channel] = _filt(out[channel], "lowpass", kit.tone_hz)
    return out


def _sidechain(n: int, kick_times: Sequence[float], depth: float, release: float) -> np.ndarray:
    """Gain curve that ducks on every kick: the synthwave 'pump' that glues bass and pads."""
    duck = np.zeros(n)
    length = int(release * 5 * _SR)
    shape = depth * np.exp(-np.arange(length) / (release * _SR))
    for t in kick_times:
        start = round(t * _SR)
        end = min(n, start + length)
        if end > start:
            duck[start:end] = np.maximum(duck[start:end], shape[: end - start])
    return 1.0 - _smooth(duck, 0.004)


# --------------------------------------------------------------------------------------------
# Bass
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BassPatch:
    shape: str
    dark_hz: float  # resting filter cutoff
    bright_hz: float  # cutoff at the start of each note
    filter_decay: float
    attack: float
    release: float
    sub: float  # level of a sine at the fundamental under the filtered wave, for weight


_SYNTH_BASS = BassPatch("saw", 220.0, 1300.0, 0.09, 0.003, 0.03, 0.5)
_LOFI_BASS = BassPatch("warm", 300.0, 700.0, 0.2, 0.008, 0.06, 0.0)


def _bass_root(chord: Chord, low: int = 33) -> int:
    """Chord root placed in the octave starting at `low` (A1 by default)."""
    return low + (chord.root - low) % 12


def _bass_notes(spec: TrackSpec, bars: list[_Bar]) -> list[_Note]:
    beat = spec.beat_s
    scale = sorted(scale_pitch_classes(spec.tonic, spec.mode))
    notes: list[_Note] = []
    for bar in bars:
        variant = bar.section.parts.get("bass")
        if variant is None:
            continue
        root = _bass_root(bar.chord)
        if variant in ("eighths", "octaves"):
            for i in range(8):
                midi = root + 12 if variant == "octaves" and i % 2 == 1 else root
                vel = 1.0 if i % 2 == 0 else 0.8
                notes.append(_Note(_step_time(spec, bar, 2 * i), beat * 0.42, midi, vel))
        elif variant == "walk":
            fifth = root + 7
            nxt = _bass_root(bar.next_chord)
            # approach the next root from the scale tone just below it
            below = max(pc for pc in [*scale, *(p - 12 for p in scale)] if pc < nxt % 12)
            approach = nxt - (nxt % 12 - below)
            approach += 12 if approach < 31 else 0
            notes.append(_Note(_step_time(spec, bar, 0), beat * 1.45, root, 1.0))
            notes.append(_Note(_step_time(spec, bar, 6), beat * 0.4, root + 12, 0.55))
            notes.append(_Note(_step_time(spec, bar, 10), beat * 0.9, fifth, 0.8))
            notes.append(_Note(_step_time(spec, bar, 14), beat * 0.4, approach, 0.75))
    return notes


def _render_bass(notes: list[_Note], patch: BassPatch, n: int) -> np.ndarray:
    """Per note: a bright-to-dark filter sweep (two static low-passes cross-faded, far cheaper
    than a time-varying filter) plus a sine for weight, then gentle tanh saturation."""
    out = np.zeros(n)
    for note in notes:
        hz = float(midi_to_hz(note.midi))
        env = _adsr(int(note.dur * _SR), patch.attack, 0.25, 0.75, patch.release)
        t = np.arange(len(env)) / _SR
        raw = _osc(patch.shape, hz * t, hz)
        dark = _filt(raw, "lowpass", patch.dark_hz, 4)
        bright = _filt(raw, "lowpass", patch.bright_hz, 2)
        sweep = np.exp(-t / patch.filter_decay)
        x = dark + (bright - dark) * sweep + patch.sub * np.sin(2 * np.pi * hz * t)
        _add(out, round(note.start * _SR), x * env * note.vel)
    return _pan(np.tanh(1.5 * out) / 1.5, 0.0)  # bass stays centred


# --------------------------------------------------------------------------------------------
# Keys: voicing, pads, arpeggio, electric piano
# --------------------------------------------------------------------------------------------


def _voicing(chord: Chord, low: int, high: int, max_notes: int = 5) -> list[int]:
    """Close voicing of the chord inside [low, high): every chord tone once, which keeps voice
    leading smooth automatically because consecutive chords share the same register."""
    notes = sorted(low + (pc - low) % 12 for pc in chord.pitch_classes)
    notes = [m if m < high else m - 12 for m in notes]
    return sorted(notes)[:max_notes]


def _pad_notes(spec: TrackSpec, bars: list[_Bar]) -> list[_Note]:
    notes = []
    for bar in bars:
        if "pad" not in (bar.section.parts.get("keys") or ""):
            continue
        for m in _voicing(bar.chord, 57, 69):
            notes.append(_Note(bar.start, spec.bar_s, m, 1.0))
        notes.append(_Note(bar.start, spec.bar_s, _bass_root(bar.chord, 45), 0.6))
    return notes


_PAD_DOWN = 4  # pads are lowpassed at 2.4 kHz, so they render at 12 kHz and get upsampled


def _render_pads(notes: list[_Note], n: int, seed: int) -> np.ndarray:
    """Two detuned saws per note, one per side: wide, but the detune keeps it mono-safe."""
    rng = np.random.default_rng(seed)
    sr = _SR // _PAD_DOWN
    out = np.zeros((2, -(-n // _PAD_DOWN)))
    for note in notes:
        env = _adsr(int(note.dur * sr), 0.18, 0.6, 0.8, 0.45, sr) * note.vel
        t = np.arange(len(env)) / sr
        hz = float(midi_to_hz(note.midi))
        for side, cents in ((0, -9.0), (1, 9.0)):
            f = hz * 2 ** (cents / 1200)
            x = _osc("saw", f * t + rng.random(), f, nyquist=sr / 2) * env
            _add(out[side], round(note.start * sr), x)
    out = _filt(out, "lowpass", 2400.0, 2, sr)
    # Blend a little of each side into the other: still wide, never a hard-panned element.
    out = 0.8 * out + 0.2 * out[::-1]
    return _resample(out, _PAD_DOWN, 1)[:, :n]


def _arp_notes(spec: TrackSpec, bars: list[_Bar]) -> list[_Note]:
    notes = []
    for bar in bars:
        if "arp" not in (bar.section.parts.get("keys") or ""):
            continue
        tones = _voicing(bar.chord, 69, 81, 3)
        cycle = [*tones, tones[1] + 12 if len(tones) > 1 else tones[0] + 12]
        for i in range(16):
            vel = 1.0 if i % 4 == 0 else 0.7
            notes.append(_Note(_step_time(spec, bar, i), spec.beat_s / 4 * 0.6, cycle[i % 4], vel))
    return notes


def _render_arp(notes: list[_Note], n: int) -> np.ndarray:
    out_l, out_r = np.zeros(n), np.zeros(n)
    for i, note in enumerate(notes):
        env = _adsr(int(note.dur * _SR), 0.002, 0.08, 0.2, 0.05)
        t = np.arange(len(env)) / _SR
        hz = float(midi_to_hz(note.midi))
        x = _filt(_osc("square", hz * t, hz), "lowpass", 3200.0) * env * note.vel
        target = out_l if i % 2 == 0 else out_r
        _add(target, round(note.start * _SR), x)
    # Alternate 30% left/right (equal power): movement without hard-panned content.
    return _pan_into(_pan(out_l, -0.3), out_r, 0.3)


def _ep_notes(spec: TrackSpec, bars: list[_Bar], seed: int) -> list[_Note]:
    """Electric-piano comping: strummed rootless voicings, sustained or in two stabs per bar."""
    rng = np.random.default_rng(seed)
    beat = spec.beat_s
    notes = []
    for bar in bars:
        variant = bar.section.parts.get("keys")
        if variant is None:
            continue
        # Rootless voicing (the bass has the root): the jazzy 3-5-7-9 colour of lofi keys.
        rootless = Chord(bar.chord.root, bar.chord.intervals[1:])
        voicing = _voicing(rootless if len(rootless.intervals) >= 3 else bar.chord, 55, 72)
        if variant == "sustain":
            hits = [(0.0, 3.8 * beat, 0.8)]
        else:
            hits = [
                (0.0, 1.6 * beat, 0.9),
                (_step_time(spec, bar, 10) - bar.start, 1.2 * beat, 0.7),
            ]
        for offset, dur, vel in hits:
            for j, m in enumerate(voicing):
                strum = j * 0.014 + rng.uniform(0, 0.004)
                v = vel * rng.uniform(0.85, 1.0)
                notes.append(_Note(bar.start + offset + strum, dur - strum, m, v))
    return notes


_EP_DOWN = 3  # the piano is lowpassed at 4.5 kHz, so it renders at 16 kHz


def _render_ep(notes: list[_Note], n: int, seed: int, beat_s: float) -> np.ndarray:
    """FM electric piano: a decaying modulation index gives the bell-like 'tine' attack."""
    rng = np.random.default_rng(seed)
    sr = _SR // _EP_DOWN
    out = np.zeros(-(-n // _EP_DOWN))
    for note in notes:
        env = _adsr(int(note.dur * sr), 0.003, 1.1, 0.25, 0.12, sr) * note.vel
        t = np.arange(len(env)) / sr
        hz = float(midi_to_hz(note.midi)) * 2 ** (rng.normal(0, 4) / 1200)  # tape-ish detune
        w = 2 * np.pi * hz * t
        index = 1.6 * np.exp(-t / 0.25) + 0.3
        body = np.sin(w + index * np.sin(w))
        tine = 0.12 * np.sin(7.0 * w) * np.exp(-t / 0.03)
        _add(out, round(note.start * sr), (body + tine) * env)
    out = _resample(_filt(out, "lowpass", 4500.0, 2, sr), _EP_DOWN, 1)[:n]
    # Slow auto-pan synced to two bars: the classic suitcase-piano stereo tremolo.
    lfo = 0.35 * np.sin(2 * np.pi * np.arange(n) / (_SR * beat_s * 8))
    return _pan(out, lfo)


# --------------------------------------------------------------------------------------------
# Lead: a vowel-morphing "vocal" synth
# --------------------------------------------------------------------------------------------

# Formants as (centre Hz, bandwidth Hz, gain), roughly a female voice.
_VOWELS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "a": ((850, 180, 1.0), (1250, 200, 0.6), (2800, 300, 0.25)),
    "e": ((550, 150, 1.0), (1900, 250, 0.45), (2700, 300, 0.3)),
    "o": ((550, 150, 1.0), (950, 180, 0.45), (2700, 300, 0.12)),
    "u": ((380, 120, 1.0), (850, 160, 0.25), (2500, 300, 0.06)),
}


@dataclass(frozen=True)
class LeadPatch:
    shape: str
    vowels: tuple[str, str]
    vibrato_hz: float
    vibrato_semitones: float
    glide: float  # portamento time constant, seconds
    breath: float
    dry: float  # unfiltered (lowpassed) body mixed under the formants
    delay_beats: float
    reverb: float
    reverb_s: float


_VOX_LEAD = LeadPatch("saw", ("a", "e"), 5.6, 0.28, 0.035, 0.04, 0.25, 0.75, 0.35, 1.3)
_HUM_LEAD = LeadPatch("triangle", ("o", "u"), 5.0, 0.22, 0.05, 0.06, 0.55, 0.5, 0.4, 1.2)


def _lead_notes(spec: TrackSpec, bars: list[_Bar]) -> list[_Note]:
    phrases: dict[str, list[list[tuple[float, float, int | None]]]] = {}
    notes = []
    for bar in bars:
        if bar.section.parts.get("lead") is None:
            continue
        text = bar.section.melody
        if text not in phrases:
            phrases[text] = parse_phrase(text, spec.beats_per_bar)
        events = phrases[text][bar.bar_in_section % len(phrases[text])]
        for beat, beats, midi in events:
            if midi is not None:
                start = bar.start + beat * spec.beat_s
                notes.append(_Note(start, beats * spec.beat_s - 0.03, midi, 1.0))
    return notes


_LEAD_DOWN = 2  # the voice renders at 24 kHz (formants end near 3 kHz); echoes run at 48 kHz


def _render_lead(notes: list[_Note], patch: LeadPatch, n: int, seed: int, beat_s: float):
    """One continuous voice: pitch glides between notes, vibrato blooms on held notes, and each
    note picks one of two vowels so the line 'sings' syllables instead of droning."""
    rng = np.random.default_rng(seed)
    sr = _SR // _LEAD_DOWN
    m = -(-n // _LEAD_DOWN)
    pitch = np.full(m, np.nan)
    amp = np.zeros(m)
    vib_depth = np.zeros(m)
    vowel = np.zeros(m)
    for note in notes:
        start = round(note.start * sr)
        env = _adsr(int(note.dur * sr), 0.025, 0.4, 0.85, 0.09, sr) * note.vel
        end = min(m, start + len(env))
        if end <= start:
            continue
        seg = slice(start, end)
        pitch[seg] = note.midi
        amp[seg] = np.maximum(amp[seg], env[: end - start])
        t = np.arange(end - start) / sr
        vib_depth[seg] = np.maximum(vib_depth[seg], np.clip((t - 0.18) / 0.35, 0.0, 1.0))
        vowel[seg] = rng.random() < 0.5
    # Hold the last pitch through rests (so the next note glides from it), and start on the
    # first note's pitch.
    valid = ~np.isnan(pitch)
    if not valid.any():
        return np.zeros((2, n))
    idx = np.maximum.accumulate(np.where(valid, np.arange(m), 0))
    pitch = pitch[idx]
    pitch[: np.argmax(valid)] = pitch[np.argmax(valid)]
    t = np.arange(m) / sr
    vibrato = patch.vibrato_semitones * vib_depth * np.sin(2 * np.pi * patch.vibrato_hz * t)
    hz = midi_to_hz(_smooth(pitch, patch.glide, sr) + vibrato)
    source = _osc(patch.shape, np.cumsum(hz) / sr, float(hz.max()), nyquist=sr / 2)
    source += patch.breath * _filt(rng.standard_normal(m), "highpass", 1500.0, 2, sr)
    vowel = _smooth(vowel, 0.03, sr)
    voiced = np.zeros(m)
    for weight, name in ((1.0 - vowel, patch.vowels[0]), (vowel, patch.vowels[1])):
        for f, bw, g in _VOWELS[name]:
            voiced += weight * g * _filt(source, "bandpass", (f - bw / 2, f + bw / 2), 1, sr)
    body = _filt(source, "lowpass", 1800.0, 2, sr)
    dry = _resample((voiced * 3.0 + patch.dry * body) * amp, _LEAD_DOWN, 1)[:n]
    # Ping-pong echoes (dotted or straight 8ths) and a plate-ish reverb for space.
    d = int(patch.delay_beats * beat_s * _SR)
    echo = _filt(dry, "lowpass", 3500.0)
    out = _pan(dry, 0.0)
    for k, (gain, position) in enumerate(((0.32, -0.6), (0.2, 0.6), (0.1, -0.6)), start=1):
        _pan_into(out, _delayed(echo, k * d) * gain, position)
    return _reverb_into(out, dry * patch.reverb, patch.reverb_s, seed + 1)


# --------------------------------------------------------------------------------------------
# FX
# --------------------------------------------------------------------------------------------


def _riser(length: int, rng: np.random.Generator) -> np.ndarray:
    """Noise swept upwards by cross-fading a ladder of band-pass filters, swelling in level."""
    noise = rng.standard_normal((2, length))
    centres = np.geomspace(400.0, 8000.0, 6)
    pos = np.linspace(0.0, len(centres) - 1, length)
    out = np.zeros((2, length))
    for i, c in enumerate(centres):
        weight = np.clip(1.0 - np.abs(pos - i), 0.0, 1.0)
        out += _filt(noise, "bandpass", (c / 1.5, c * 1.5)) * weight
    swell = np.linspace(0.0, 1.0, length) ** 2
    return out * (swell * _perc_env(length, 0.01, 1e9))


def _crash(rng: np.random.Generator) -> np.ndarray:
    n = int(2.4 * _SR)
    t = np.arange(n) / _SR
    noise = _filt(rng.standard_normal((2, n)), "highpass", 4500.0, 2)
    cymbal = noise * _perc_env(n, 0.001, 0.55)
    boom = np.sin(2 * np.pi * np.cumsum(35 + 40 * np.exp(-t / 0.08)) / _SR)
    impact = _pan(boom * _perc_env(n, 0.002, 0.35), 0.0) * 1.3
    return 0.6 * cymbal + impact


def _render_synthwave_fx(spec: TrackSpec, bars: list[_Bar], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros((2, n))
    for bar in bars:
        variant = bar.section.parts.get("fx") or ""
        if "crash" in variant and bar.bar_in_section == 0:
            _add(out, round(bar.start * _SR), _crash(rng))
        if "riser" in variant and bar.bar_in_section == bar.section.bars - 2:
            length = int(2 * spec.bar_s * _SR)
            _add(out, round(bar.start * _SR), 0.5 * _riser(length, rng))
    return out


def _render_vinyl(spec: TrackSpec, bars: list[_Bar], n: int, seed: int) -> np.ndarray:
    """Vinyl crackle and tape hiss wherever the section asks for it."""
    rng = np.random.default_rng(seed)
    active = np.zeros(n)
    for bar in bars:
        if bar.section.parts.get("fx") == "vinyl":
            start = round(bar.start * _SR)
            active[start : start + round(spec.bar_s * _SR)] = 1.0
    clicks = np.zeros((2, n))
    count = int(n / _SR * 14)  # ~14 crackles per second
    where = rng.integers(0, n, count)
    size = np.minimum(rng.pareto(3.0, count) * 0.25 + 0.05, 0.5)
    shared = rng.random(count) < 0.7  # most crackle is in both channels (it is on the record)
    side = rng.integers(0, 2, count)
    np.add.at(clicks[0], where, size * (shared | (side == 0)))
    np.add.at(clicks[1], where, size * (shared | (side == 1)))
    gate = _smooth(active, 0.05)
    rumble = _filt(rng.standard_normal(n), "bandpass", (40.0, 120.0)) * 0.02
    for channel in range(2):
        clicks[channel] = _filt(clicks[channel], "bandpass", (800.0, 7000.0))
        clicks[channel] += _filt(rng.standard_normal(n), "bandpass", (2000.0, 9000.0)) * 0.012
    _pan_into(clicks, rumble, 0.0)
    clicks *= gate
    return clicks


# --------------------------------------------------------------------------------------------
# Bands: which instruments a style uses for each stem kind
# --------------------------------------------------------------------------------------------


def _synthwave_band(spec: TrackSpec, bars: list[_Bar], n: int) -> dict[str, np.ndarray]:
    seed = spec.seed
    hits = _drum_hits(spec, bars, seed + 10)
    pump = _sidechain(n, [t for t, voice, _ in hits if voice == "kick"], 0.45, 0.11)
    keys = _render_pads(_pad_notes(spec, bars), n, seed + 30)
    keys += 0.35 * _render_arp(_arp_notes(spec, bars), n)
    keys *= pump
    _reverb_into(keys, keys.mean(axis=0) * 0.3, 1.5, seed + 31)
    bass = _render_bass(_bass_notes(spec, bars), _SYNTH_BASS, n)
    bass *= pump
    return {
        "drums": _render_drums(hits, _SYNTHWAVE_KIT, n, seed + 11),
        "bass": bass,
        "keys": keys,
        "lead": _render_lead(_lead_notes(spec, bars), _VOX_LEAD, n, seed + 40, spec.beat_s),
        "fx": _render_synthwave_fx(spec, bars, n, seed + 50),
    }


def _lofi_band(spec: TrackSpec, bars: list[_Bar], n: int) -> dict[str, np.ndarray]:
    seed = spec.seed
    hits = _drum_hits(spec, bars, seed + 10)
    keys = _render_ep(_ep_notes(spec, bars, seed + 30), n, seed + 31, spec.beat_s)
    _reverb_into(keys, keys.mean(axis=0) * 0.25, 1.2, seed + 32)
    return {
        "drums": _render_drums(hits, _LOFI_KIT, n, seed + 11),
        "bass": _render_bass(_bass_notes(spec, bars), _LOFI_BASS, n),
        "keys": keys,
        "lead": _render_lead(_lead_notes(spec, bars), _HUM_LEAD, n, seed + 40, spec.beat_s),
        "fx": _render_vinyl(spec, bars, n, seed + 50),
    }


_BANDS: dict[str, Callable[[TrackSpec, list[_Bar], int], dict[str, np.ndarray]]] = {
    "synthwave": _synthwave_band,
    "lofi": _lofi_band,
}

# Loudness of each stem while it plays (RMS dBFS over its audible blocks): the mix balance.
_STEM_LEVEL_DB = {
    "synthwave": {"drums": -15.0, "bass": -18.5, "keys": -21.0, "lead": -19.0, "fx": -26.0},
    "lofi": {"drums": -15.0, "bass": -18.0, "keys": -20.0, "lead": -19.0, "fx": -34.0},
}
_STEM_PEAK = 10 ** (-6.5 / 20)  # every stem peaks at or below -6.5 dBFS
_MIX_PEAK = 10 ** (-1.5 / 20)  # and the unity-gain sum at or below -1.5 dBFS


def _active_rms(x: np.ndarray) -> float:
    """RMS over the blocks that are actually playing, so rests don't skew the balance."""
    block = _SR // 10
    frames = x.shape[-1] // block
    k = frames * block
    power = (np.square(x[0, :k]) + np.square(x[1, :k])).reshape(frames, block).mean(axis=1) / 2
    loud = power[power > 1e-7]
    return float(np.sqrt(np.mean(loud))) if len(loud) else 0.0


def _master(
    stems: dict[str, np.ndarray], levels: dict[str, float], fade_s: float
) -> dict[str, np.ndarray]:
    """Remove DC, balance, cap stem peaks, fade the ends and keep the unity sum from clipping."""
    n = next(iter(stems.values())).shape[-1]
    fade = np.ones(n)
    fade[: int(0.005 * _SR)] = _fade_in(int(0.005 * _SR))
    tail = int(fade_s * _SR)
    fade[n - tail :] = _fade_in(tail)[::-1] ** 1.5
    total = np.zeros((2, n))
    for kind, x in stems.items():  # all in place: these buffers are big
        for channel in range(2):
            x[channel] = _filt(x[channel], "highpass", 20.0)
        x *= fade
        rms = _active_rms(x)
        gain = 10 ** (levels[kind] / 20) / rms if rms > 0 else 1.0
        peak = max(float(x.max()), -float(x.min())) * gain
        x *= gain * min(1.0, _STEM_PEAK / peak) if peak > 0 else 1.0
        total += x
    mix_peak = max(float(total.max()), -float(total.min()))
    scale = min(1.0, _MIX_PEAK / mix_peak) if mix_peak > 0 else 1.0
    out = {}
    for kind, x in stems.items():
        audio = np.empty((n, 2), dtype=np.float32)
        np.multiply(x.T, scale, out=audio, casting="same_kind")
        out[kind] = audio
    return out


def compose_track(spec: TrackSpec) -> DemoTrack:
    """Render one track from its spec (deterministic: everything is seeded from spec.seed)."""
    bars = _timeline(spec)
    n = spec.frames
    raw = _BANDS[spec.style](spec, bars, n)
    rendered = _master(raw, _STEM_LEVEL_DB[spec.style], fade_s=min(3.0, spec.bar_s))
    stems = [DemoStem(f"{spec.id}-{kind}", name, kind, rendered[kind]) for kind, name in spec.stems]
    return DemoTrack(
        id=spec.id,
        title=spec.title,
        artist=ARTIST,
        bpm=spec.bpm,
        key=spec.key,
        beats_per_bar=spec.beats_per_bar,
        first_beat=spec.first_beat,
        sections=spec.section_times(),
        stems=stems,
    )


def compose_demo_tracks() -> list[DemoTrack]:
    """Compose the whole demo catalog (tracks render in parallel; numpy releases the GIL)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(compose_track, TRACK_SPECS))


# --------------------------------------------------------------------------------------------
# Catalog on disk
# --------------------------------------------------------------------------------------------


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def _encode_stem(directory: Path, stem: DemoStem) -> dict[str, Any]:
    """Write one stem as 16-bit FLAC under a temp name, hash it, then atomically rename."""
    final = directory / f"{stem.id}.flac"
    temp = _temp_path(final)
    try:
        sf.write(temp, stem.audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        data = temp.read_bytes()
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    frames, channels = stem.audio.shape
    return {
        "id": stem.id,
        "name": stem.name,
        "kind": stem.kind,
        "file": final.name,
        "frames": int(frames),
        "sample_rate": SAMPLE_RATE,
        "channels": int(channels),
        "duration": frames / SAMPLE_RATE,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _load_cached(directory: Path) -> list[dict[str, Any]] | None:
    """The existing catalog if it is from this generator version and all its files are intact."""
    try:
        catalog = json.loads((directory / _CATALOG_FILE).read_text())
        for track in catalog:
            if track.get("generator_version") != GENERATOR_VERSION:
                return None
            for stem in track["stems"]:
                if (directory / stem["file"]).stat().st_size != stem["size"]:
                    return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return catalog if isinstance(catalog, list) and catalog else None


def _previous_files(directory: Path) -> set[str]:
    try:
        catalog = json.loads((directory / _CATALOG_FILE).read_text())
        return {stem["file"] for track in catalog for stem in track["stems"]}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def write_demo_catalog(directory: Path) -> list[dict]:
    """Encode each stem as FLAC (16-bit, via soundfile) to directory/<stem_id>.flac and write
    directory/catalog.json: a list of track dicts {id,title,artist,bpm,key,beats_per_bar,
    first_beat,sections:[{name,start,end}],stems:[{id,name,kind,file,frames,sample_rate,
    channels,duration,size,sha256}]} (sha256 and size of the FLAC file bytes).

    Cached: if catalog.json exists with the same GENERATOR_VERSION (stored per track as
    "generator_version") and all files are present with matching sizes, it is returned without
    recomposing. Every file is written under a temp name and renamed into place, and
    catalog.json goes last, so a crash never leaves a catalog pointing at half-written audio.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cached = _load_cached(directory)
    if cached is not None:
        return cached
    previous = _previous_files(directory)
    tracks = compose_demo_tracks()
    stems = [(track, stem) for track in tracks for stem in track.stems]
    with ThreadPoolExecutor(max_workers=2) as pool:  # libsndfile runs without the GIL
        encoded = list(pool.map(lambda pair: _encode_stem(directory, pair[1]), stems))
    by_id = {entry["id"]: entry for entry in encoded}
    catalog = [
        {
            "id": track.id,
            "title": track.title,
            "artist": track.artist,
            "bpm": track.bpm,
            "key": track.key,
            "beats_per_bar": track.beats_per_bar,
            "first_beat": track.first_beat,
            "sections": [
                {"name": name, "start": start, "end": end} for name, start, end in track.sections
            ],
            "stems": [by_id[stem.id] for stem in track.stems],
            "generator_version": GENERATOR_VERSION,
        }
        for track in tracks
    ]
    target = directory / _CATALOG_FILE
    temp = _temp_path(target)
    try:
        with open(temp, "w", encoding="utf-8") as fh:
            json.dump(catalog, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    for stale in previous - {entry["file"] for entry in encoded}:
        (directory / Path(stale).name).unlink(missing_ok=True)
    return catalog
