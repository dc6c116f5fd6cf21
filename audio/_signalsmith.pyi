# The extension module built from audio/signalsmith/shim.cpp (pyproject.toml): it defines no
# Python names; audio/stretch.py loads its C functions from the file through ctypes.
