"""The licence report in the test command: everything Encore ships (its runtime dependencies,
transitively, read from the installed packages' metadata, plus the native components listed in
app/licences.py) must be under a licence on the allow-list; the project's own licence is
Apache-2.0 and says so everywhere. Test-only tools (pytest, schemathesis, python-stretch...) are
not shipped and not judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import licences

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report() -> list[licences.Row]:
    return licences.licence_report()


def test_everything_encore_ships_has_a_licence_that_lets_us_ship_it(report):
    bad = [r for r in report if not r.ok]
    assert not bad, "Encore would ship components whose licence is not on the allow-list:\n" + (
        "\n".join(
            f"  {r.component.name} {r.component.version} ({r.component.via}): "
            f"{r.component.licence!r}: {r.why}"
            for r in bad
        )
        + "\nReplace the dependency (pyproject.toml), or, if its licence does let a permissive "
        "app ship it (e.g. LGPL used as a separate, replaceable library), add that licence to "
        "ALLOWED in app/licences.py with the reason."
    )


def test_the_report_covers_the_runtime_dependencies_and_not_the_test_tools(report):
    names = {licences.normalise(r.component.name) for r in report}
    for direct in licences.runtime_requirements():
        assert licences.normalise(direct) in names, direct
    # transitive: numba brings llvmlite, fastapi brings starlette, PySide6 brings shiboken6
    assert {"llvmlite", "starlette", "shiboken6"} <= names
    for tool in ("pytest", "pytest-qt", "ruff", "schemathesis", "hypothesis", "python-stretch"):
        assert tool not in names, f"{tool} is a test tool, not shipped"
    assert "pylibrb" not in names  # Rubber Band (GPL) is gone: audio/stretch.py
    assert "Signalsmith Stretch" in {r.component.name for r in report}


@pytest.mark.parametrize(
    ("declared", "ok"),
    [
        ("MIT", True),
        ("BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0", True),
        ("LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only", True),  # PySide6: we take the LGPL
        ("BSD-2-Clause AND Apache-2.0 WITH LLVM-exception", True),
        ("MIT License", True),  # a trove classifier
        ("GPL-2.0-or-later", False),  # Rubber Band's
        ("GPL-3.0-only", False),
        ("AGPL-3.0-only", False),
        ("MIT AND GPL-3.0-only", False),  # every part of an AND must be acceptable
        ("GNU General Public License v3 (GPLv3)", False),
        ("Proprietary", False),
        ("not declared", False),
        ("not installed", False),
    ],
)
def test_the_verdict_on_a_declared_licence(declared, ok):
    got, why = licences.verdict(declared)
    assert got is ok, why
    if not ok:
        assert why  # the failure message says which part is not allowed


def test_a_gpl_dependency_fails_the_check_naming_it(monkeypatch):
    """As if pylibrb (GPL) were still a dependency: the report marks it, with the reason."""
    real = licences.licence_of
    monkeypatch.setattr(licences, "_direct_requirements", lambda: ["numpy>=1.26", "pylibrb>=0.1.2"])
    monkeypatch.setattr(
        licences,
        "licence_of",
        lambda d: "GPL-2.0-or-later" if licences.normalise(d) == "pylibrb" else real(d),
    )
    rows = {r.component.name: r for r in licences.licence_report()}
    assert not rows["pylibrb"].ok and "GPL-2.0" in rows["pylibrb"].why
    assert rows["numpy"].ok


def test_the_project_is_apache_2_and_says_so():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert licences.project_licence() == licences.PROJECT_LICENCE == "Apache-2.0"
    assert (ROOT / "audio" / "signalsmith" / "LICENSE.txt").read_text().startswith("MIT License")
