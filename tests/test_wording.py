"""core/wording.py: every setting a person reads has a name and a unit, never a field name."""

from __future__ import annotations

from core.contract import StemSettings
from core.wording import (
    STEM_PARAMS,
    describe_stem_setting,
    describe_transformation,
    format_seconds,
    format_tempo,
    policy_label,
    policy_value,
)


def test_every_stem_setting_has_a_name():
    assert set(StemSettings.model_fields) == set(STEM_PARAMS)


def test_stem_settings_read_with_units():
    assert describe_stem_setting("lp_hz", 778.0902899885614) == "low-pass filter 778 Hz"
    assert describe_stem_setting("hp_hz", 1500.0) == "high-pass filter 1.5 kHz"
    assert describe_stem_setting("send_reverb", 0.35) == "reverb send 35 %"
    assert describe_stem_setting("eq_low_db", -3.0) == "bass EQ -3.0 dB"
    assert describe_stem_setting("pan", -0.3) == "pan 30 % left"
    assert describe_stem_setting("gain_db", -96.0) == "level silent"
    assert describe_stem_setting("mute", True) == "muted"


def test_remix_level_changes_read_as_phrases():
    names = {"t-keys": "Electric Piano"}
    assert describe_transformation("reverb", {"size": 0.8123}) == "reverb size 81 %"
    assert describe_transformation("delay", {"beats": 0.5, "feedback": 0.6}) == (
        "delay time 0.5 beats, feedback 60 %"
    )
    slots = [{"name": "Chorus", "start": 60.0, "end": 90.0}, {"name": "", "start": 5.5}]
    assert describe_transformation("arrangement", slots) == "arranged: Chorus → 0:05.5"
    lanes = [{"stem": "t-keys", "param": "send_delay", "points": 3, "min": 0, "max": 1}]
    assert describe_transformation("automation", lanes, names) == (
        "automated: Electric Piano delay send"
    )


def test_policy_settings_read_as_the_editor_names_them():
    names = {"t-keys": "Electric Piano", "t-bass": "Bass"}
    assert policy_label("tempo_ratio_min") == "slowest tempo"
    assert policy_value("tempo_ratio_min", 1.1) == "×1.1"
    assert format_tempo(1.25) == "×1.25" and format_tempo(1.0) == "×1"
    assert policy_value("allowed_stems", None) == "all stems"
    assert policy_value("allowed_stems", ["t-keys", "t-bass"], names) == "Electric Piano, Bass"
    assert policy_value("solo_forbidden_stems", []) == "none"
    assert policy_value("creator_share", 0.3) == "30 %"
    assert policy_value("max_length_s", 600.0) == format_seconds(600.0) == "10:00"
    assert policy_value("requires_approval", True) == "yes"
