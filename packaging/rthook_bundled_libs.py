"""PyInstaller runtime hook (packaging/encore.spec): the libraries the bundle carries come first.

sounddevice (PortAudio) and core/flacdec.py (libFLAC) look their C library up with
`ctypes.util.find_library`, which on Linux only asks the system (ldconfig): on a machine without
libportaudio2 the bundle's own copy would never be found, and where the system has one, a
library the bundle was not tested with would be loaded. Run before any of Encore's modules, this
makes find_library answer with the bundle's copy when it carries one (else it asks the system as
before). libjack, which PortAudio links, also comes from the bundle (PyInstaller's bootloader puts
the bundle first on LD_LIBRARY_PATH).
"""

from __future__ import annotations

import ctypes.util
import os
import sys

_BUNDLE = getattr(sys, "_MEIPASS", None)
_system_find_library = ctypes.util.find_library


def _find_library(name: str) -> str | None:
    if _BUNDLE is not None:
        prefix = f"lib{name}.so"
        for entry in sorted(os.listdir(_BUNDLE)):
            if entry == prefix or entry.startswith(prefix + "."):
                return os.path.join(_BUNDLE, entry)
    return _system_find_library(name)


ctypes.util.find_library = _find_library
