"""What Encore ships and under which licences: one source for the About dialog (ui/about.py) and
for the licence check in the test command (tests/test_licences.py).

Encore itself is Apache-2.0 (LICENSE). What it ships with it, and so redistributes:

* every Python distribution its runtime dependencies pull in (pyproject's `dependencies` and
  theirs, transitively, with the extras asked for; never the test extra), read from the
  installed packages' own metadata: the licence a package declares is the one we go by;
* the native components that are not Python distributions of their own (`NATIVE`): the vendored
  Signalsmith Stretch, and the system libraries a desktop bundle carries.

A licence is acceptable when it lets us ship the component inside a permissively licensed,
closed-or-open desktop app without relicensing Encore: the permissive licences, MPL-2.0 (file
copyleft: we ship such files unmodified) and the LGPL (we load those libraries dynamically, as
separate files a user can replace: Qt through PySide6, libpq through psycopg, libsndfile). GPL,
AGPL or anything not declared fails, naming the package and what to do. A licence expression
with OR is acceptable when one branch is (PySide6: LGPL-3.0-only OR GPL); with AND, every part
must be.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

DIST = "encore"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
PROJECT_LICENCE = "Apache-2.0"

ALLOWED: dict[str, str] = {
    "MIT": "permissive",
    "MIT-0": "permissive",
    "BSD": "permissive (BSD family)",
    "BSD-2-Clause": "permissive",
    "BSD-3-Clause": "permissive",
    "0BSD": "permissive",
    "ISC": "permissive",
    "Apache-2.0": "permissive, with a patent grant",
    "PSF-2.0": "permissive (Python Software Foundation)",
    "Python-2.0": "permissive (Python Software Foundation)",
    "Zlib": "permissive",
    "CC0-1.0": "public domain dedication",
    "Unlicense": "public domain dedication",
    "HPND": "permissive",
    "BSL-1.0": "permissive (Boost)",
    "MPL-2.0": "file-level copyleft: shipped unmodified",
    "LGPL-2.1": "dynamically linked, replaceable by the user",
    "LGPL-3.0": "dynamically linked, replaceable by the user",
    "PostgreSQL": "permissive",
    "OLDAP-2.8": "permissive (OpenLDAP)",
    "BSD-Attribution-HPND-disclaimer": "permissive (Cyrus SASL)",
    "Unicode-3.0": "permissive (Unicode, ICU)",
    "FTL": "permissive (FreeType)",
    "Libpng": "permissive",
}
"""Licence (SPDX id, without -only / -or-later) -> why shipping it is fine."""

EXCEPTIONS: dict[str, str] = {
    "LLVM-exception": "Apache-2.0 with LLVM's exception: no attribution needed in binaries",
    "GCC-exception-3.1": "GCC runtime library exception: linking it does not extend the GPL",
}
"""Licence exceptions (`X WITH exception`) that make a licence fine to ship whatever X is."""

_NAMES: dict[str, str] = {
    "mit license": "MIT",
    "mit": "MIT",
    "bsd license": "BSD",
    "bsd": "BSD",
    "bsd 3-clause license": "BSD-3-Clause",
    "bsd-3-clause license": "BSD-3-Clause",
    "new bsd license": "BSD-3-Clause",
    "apache software license": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache 2.0": "Apache-2.0",
    "isc license (iscl)": "ISC",
    "python software foundation license": "PSF-2.0",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.1",
    "gnu library or lesser general public license (lgpl)": "LGPL-2.1",
    "gnu general public license v2 (gplv2)": "GPL-2.0",
    "gnu general public license v3 (gplv3)": "GPL-3.0",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0",
    "gnu affero general public license v3": "AGPL-3.0",
    "the unlicense (unlicense)": "Unlicense",
    "public domain": "CC0-1.0",
}
"""Trove classifiers and free-text `License` fields -> SPDX ids."""


@dataclass(frozen=True)
class Component:
    name: str
    version: str
    licence: str  # as declared (SPDX expression, classifier or short text)
    via: str  # "python" (a distribution) or what carries a native component


NATIVE: list[Component] = [
    Component(
        "Signalsmith Stretch", "a9d78f0", "MIT", "vendored source, audio/signalsmith (tempo/key)"
    ),
    Component("Qt 6", "with PySide6", "LGPL-3.0-only", "PySide6-Essentials (shared libraries)"),
    Component("PortAudio", "system", "MIT", "sounddevice (audio output)"),
    Component("libsndfile", "system", "LGPL-2.1-or-later", "soundfile (audio files)"),
    Component("libFLAC", "system", "BSD-3-Clause", "core/flacdec.py (stem decoding)"),
    Component("LLVM", "with llvmlite", "Apache-2.0 WITH LLVM-exception", "numba (DSP kernels)"),
    Component("OpenBLAS", "in numpy's and scipy's wheels", "BSD-3-Clause", "numpy, scipy"),
    Component(
        "libgfortran, libquadmath",
        "in numpy's and scipy's wheels",
        "GPL-3.0-or-later WITH GCC-exception-3.1 AND LGPL-2.1-or-later",
        "numpy, scipy (runtime of their Fortran parts)",
    ),
    Component("libpq", "in psycopg-binary's wheel", "PostgreSQL", "psycopg (PostgreSQL client)"),
    Component("OpenSSL 3", "in psycopg-binary's wheel", "Apache-2.0", "psycopg (TLS)"),
    Component("MIT Kerberos", "in psycopg-binary's wheel", "MIT", "psycopg (GSSAPI)"),
    Component("OpenLDAP client", "in psycopg-binary's wheel", "OLDAP-2.8", "psycopg (LDAP lookup)"),
    Component(
        "Cyrus SASL", "in psycopg-binary's wheel", "BSD-Attribution-HPND-disclaimer", "psycopg"
    ),
    Component(
        "libcrypt, libkeyutils, com_err",
        "in psycopg-binary's wheel",
        "LGPL-2.1-or-later AND MIT",
        "psycopg (Kerberos support libraries)",
    ),
    Component("ICU", "in PySide6-Essentials' wheel", "Unicode-3.0", "Qt (text)"),
    Component("JACK client library", "in python-rtmidi's wheel", "LGPL-2.1-or-later", "MIDI"),
    Component("ALSA library", "system", "LGPL-2.1-or-later", "python-rtmidi (MIDI)"),
    Component("fontconfig", "system", "MIT", "Qt (fonts)"),
    Component("FreeType", "system", "FTL OR GPL-2.0-or-later", "Qt (fonts)"),
    Component("GLib", "system", "LGPL-2.1-or-later", "Qt (event loop)"),
    Component("libpng", "system", "Libpng", "Qt (images)"),
]
"""Native code shipped that no Python distribution's metadata declares on its own: libraries
inside wheels, and the system libraries a desktop bundle copies in (the shared objects the
extension modules load, checked with ldd). Reviewed by hand: re-check against the bundle's own
file list whenever it changes."""


def normalise(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0]


def _direct_requirements() -> list[str]:
    """Encore's direct runtime requirements (no extras such as `test`): from pyproject.toml in
    a checkout (what will ship), else from the installed metadata (a bundle)."""
    if PYPROJECT.exists():
        with PYPROJECT.open("rb") as f:
            return list(tomllib.load(f)["project"]["dependencies"])
    try:
        return [r for r in metadata.requires(DIST) or [] if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        return []


def runtime_requirements() -> list[str]:
    """The names of Encore's direct runtime dependencies, as pyproject spells them."""
    return [_requirement_name(r) for r in _direct_requirements()]


def _applies(requirement: str, extras: set[str]) -> tuple[str, set[str]] | None:
    """(name, its extras) if `requirement` applies here with `extras` asked of its owner."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # no packaging: a plain reading (extras and extra markers only)
        name = _requirement_name(requirement)
        marker = requirement.partition(";")[2]
        wanted = re.findall(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if wanted and not set(wanted) & extras:
            return None
        asked = re.search(r"\[([^\]]*)\]", requirement.partition(";")[0])
        return name, {e.strip() for e in asked.group(1).split(",")} if asked else set()
    req = Requirement(requirement)
    if req.marker is not None:
        envs = [{"extra": e} for e in extras] or [{"extra": ""}]
        if not any(req.marker.evaluate(env) for env in envs):
            return None
    return req.name, set(req.extras)


def shipped_distributions() -> dict[str, tuple[str, set[str]]]:
    """normalised name -> (name as first required, extras) of every runtime distribution,
    transitively (a missing one is listed too: the check then says it is not installed)."""
    found: dict[str, tuple[str, set[str]]] = {}
    todo: list[tuple[str, set[str]]] = []
    for r in _direct_requirements():
        hit = _applies(r, set())
        if hit:
            todo.append(hit)
    while todo:
        name, extras = todo.pop()
        key = normalise(name)
        known = found.get(key)
        if known is not None and extras <= known[1]:
            continue
        found[key] = (known[0] if known else name, (known[1] if known else set()) | extras)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for r in requires:
            hit = _applies(r, found[key][1])
            if hit:
                todo.append(hit)
    found.pop(normalise(DIST), None)
    return found


def licence_of(dist: str) -> str:
    """The licence a package declares: SPDX `License-Expression`, else a short `License`
    field, else its trove classifiers; "not declared" when it says nothing."""
    try:
        meta = metadata.metadata(dist)
    except metadata.PackageNotFoundError:
        return "not installed"
    if expression := _field(meta, "License-Expression"):
        return expression
    text = (_field(meta, "License") or "").strip()
    if text and "\n" not in text and len(text) <= 80:
        return text
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    if classifiers:
        return " OR ".join(classifiers)
    return text.splitlines()[0][:80] if text else "not declared"


def _field(meta: metadata.PackageMetadata, name: str) -> str | None:
    """A metadata field's first value (what `Message.get` gives; typed on every Python)."""
    values = meta.get_all(name)
    return values[0] if values else None


def version_of(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def _spdx(term: str) -> str:
    """One licence term as an ALLOWED key (or "WITH exception" when the exception decides)."""
    term = term.strip().strip("()").strip()
    base, _, exception = term.partition(" WITH ")
    if exception.strip() in EXCEPTIONS:
        return f"WITH {exception.strip()}"
    term = base.strip()
    mapped = _NAMES.get(term.lower())
    if mapped:
        return mapped
    term = re.sub(r"(-only|-or-later|\+)$", "", term)
    return {"GPL-3": "GPL-3.0", "GPL-2": "GPL-2.0", "LGPLv3": "LGPL-3.0"}.get(term, term)


def verdict(licence: str) -> tuple[bool, str]:
    """(acceptable, why) for a declared licence expression (see the module docstring)."""
    if licence in ("not installed", "not declared", ""):
        return False, f"licence {licence or 'not declared'}"
    # OR binds looser than AND in SPDX; parentheses are rare enough here to flatten.
    flat = licence.replace("(", " ").replace(")", " ")
    branches = re.split(r"\s+OR\s+|\s*/\s*|,\s*", flat)
    reasons = []
    for branch in branches:
        parts = [_spdx(p) for p in re.split(r"\s+AND\s+", branch) if p.strip()]
        bad = [p for p in parts if p not in ALLOWED and p[5:] not in EXCEPTIONS]
        if parts and not bad:
            why = {ALLOWED.get(p) or EXCEPTIONS[p[5:]] for p in parts}
            return True, "; ".join(sorted(why))
        reasons.append(", ".join(bad) or branch)
    return False, "not on the allow-list: " + " / ".join(reasons)


@dataclass(frozen=True)
class Row:
    component: Component
    ok: bool
    why: str


def licence_report() -> list[Row]:
    """Every shipped component (Python distributions by name, then the native ones) with
    whether its licence lets Encore ship it, and why."""
    rows = []
    for _key, (name, _extras) in sorted(shipped_distributions().items()):
        licence = licence_of(name)
        ok, why = verdict(licence)
        rows.append(Row(Component(name, version_of(name), licence, "python"), ok, why))
    for native in NATIVE:
        ok, why = verdict(native.licence)
        rows.append(Row(native, ok, why))
    return rows


def project_licence() -> str:
    """Encore's own licence, as pyproject declares it."""
    with PYPROJECT.open("rb") as f:
        return str(tomllib.load(f)["project"].get("license", ""))
