"""How settings read to people: one name and one unit per parameter, for every place a person
reads them (knobs, the disclosure, the audit log, the platform's refusals).

The document and the wire keep their field names (`lp_hz`, `tempo_ratio_min`); nothing a fan or
an artist reads shows them. The server imports this module too, so a refusal names a setting the
way the studio's controls do.
"""

from __future__ import annotations

from collections.abc import Mapping

# -- units ----------------------------------------------------------------------------------


def format_db(value: float) -> str:
    return f"{value:+.1f} dB"


def format_hz(value: float) -> str:
    return f"{value / 1000:.1f} kHz" if value >= 1000 else f"{value:.0f} Hz"


def format_percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def format_pan(value: float) -> str:
    if abs(value) < 0.005:
        return "centre"
    return f"{abs(value) * 100:.0f} % {'left' if value < 0 else 'right'}"


def format_tempo(ratio: float) -> str:
    return f"×{ratio:.2f}".rstrip("0").rstrip(".")


def format_semitones(shift: int) -> str:
    if shift == 0:
        return "original key"
    return f"{shift:+d} semitone{'s' if abs(shift) != 1 else ''}"


def format_seconds(seconds: float) -> str:
    """0:42, 3:05.5 — the way the transport shows time."""
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    whole = f"{int(minutes)}:{int(rest):02d}"
    tenths = round((rest - int(rest)) * 10)
    return f"{whole}.{tenths}" if 0 < tenths < 10 else whole


# -- a stem's settings ----------------------------------------------------------------------

STEM_PARAMS: dict[str, str] = {
    "gain_db": "level",
    "pan": "pan",
    "mute": "mute",
    "solo": "solo",
    "eq_low_db": "bass EQ",
    "eq_mid_db": "mid EQ",
    "eq_high_db": "treble EQ",
    "hp_hz": "high-pass filter",
    "lp_hz": "low-pass filter",
    "send_reverb": "reverb send",
    "send_delay": "delay send",
}


def param_label(param: str) -> str:
    return STEM_PARAMS.get(param, param.replace("_", " "))


def stem_value(param: str, value: object) -> str:
    """A stem setting's value with its unit ("778 Hz", "35 %", "30 % left", "muted")."""
    if param in ("mute", "solo"):
        on = bool(value)
        return ("muted" if on else "sounding") if param == "mute" else ("on" if on else "off")
    number = float(value)  # type: ignore[arg-type]
    if param == "pan":
        return format_pan(number)
    if param.endswith("_db"):
        return "silent" if number <= -96.0 else format_db(number)
    if param.endswith("_hz"):
        return format_hz(number)
    if param.startswith("send_"):
        return format_percent(number)
    return f"{number:g}"


def describe_stem_setting(param: str, value: object) -> str:
    """ "low-pass filter 778 Hz", "muted", "solo"."""
    if param == "mute":
        return "muted" if value else "unmuted"
    if param == "solo":
        return "solo" if value else "not solo"
    return f"{param_label(param)} {stem_value(param, value)}"


# -- the whole remix --------------------------------------------------------------------------

BUS_PARAMS: dict[str, dict[str, str]] = {
    "reverb": {"size": "size", "damping": "damping", "wet": "return"},
    "delay": {"beats": "time", "feedback": "feedback", "wet": "return"},
}


def _bus(name: str, settings: Mapping[str, object]) -> str:
    bits = []
    for key, value in settings.items():
        label = BUS_PARAMS[name].get(key, key.replace("_", " "))
        if key == "beats":
            beats = float(value)  # type: ignore[arg-type]
            bits.append(f"{label} {beats:g} beat{'s' if beats != 1 else ''}")
        else:
            bits.append(f"{label} {format_percent(float(value))}")  # type: ignore[arg-type]
    return f"{name} " + ", ".join(bits)


def describe_transformation(
    name: str, value: object, stem_names: Mapping[str, str] | None = None
) -> str:
    """A document-level change beyond tempo, key and master level, in a phrase: the reverb and
    delay buses, the arrangement (its sections in order), the automation (which stem moves
    what)."""
    names = stem_names or {}
    if name in BUS_PARAMS and isinstance(value, Mapping):
        return _bus(name, value)
    if name == "arrangement" and isinstance(value, list):
        sections = [
            str(slot.get("name") or format_seconds(float(slot.get("start", 0.0))))
            for slot in value
            if isinstance(slot, Mapping)
        ]
        return "arranged: " + " → ".join(sections)
    if name == "automation" and isinstance(value, list):
        moves = [
            f"{names.get(str(lane.get('stem')), 'a stem')} {param_label(str(lane.get('param')))}"
            for lane in value
            if isinstance(lane, Mapping)
        ]
        return "automated: " + ", ".join(moves)
    return f"{name.replace('_', ' ')} changed"


# -- the artist's rights policy ---------------------------------------------------------------

POLICY_FIELDS: dict[str, str] = {
    "opted_in": "open to remixes",
    "allowed_stems": "stems fans may use",
    "solo_forbidden_stems": "stems never heard alone",
    "tempo_ratio_min": "slowest tempo",
    "tempo_ratio_max": "fastest tempo",
    "key_shift_min": "lowest key shift",
    "key_shift_max": "highest key shift",
    "max_length_s": "longest remix",
    "requires_approval": "you approve each remix",
    "creator_share": "creator's share",
    "min_balance_change_db": "smallest mix change",
}


def policy_label(field: str) -> str:
    return POLICY_FIELDS.get(field, field.replace("_", " "))


def policy_value(field: str, value: object, stem_names: Mapping[str, str] | None = None) -> str:
    names = stem_names or {}
    if value is None:
        return "all stems" if field == "allowed_stems" else "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(names.get(str(v), str(v)) for v in value) or "none"
    if field.startswith("tempo_ratio"):
        return format_tempo(float(value))  # type: ignore[arg-type]
    if field.startswith("key_shift"):
        return f"{int(value):+d} semitones"  # type: ignore[call-overload]
    if field == "max_length_s":
        return format_seconds(float(value))  # type: ignore[arg-type]
    if field == "creator_share":
        return f"{float(value) * 100:g} %"  # type: ignore[arg-type]
    if field.endswith("_db"):
        return f"{float(value):g} dB"  # type: ignore[arg-type]
    return str(value)
