"""The desktop bundle's one executable (packaging/encore.spec): the studio, and its platform.

A frozen bundle has no `python -m`: app/embedded.py starts the embedded platform as
`sys.executable -m server.cli serve ...`, and in the bundle `sys.executable` is this program. So
the same executable is both:

* `encore [studio options]`: the studio (`ui.launch.main`), as the `encore` console script;
* `encore -m server.cli ARGS`: the embedded platform (`server.cli.main`), which is what
  app/embedded.py asks for (also usable by hand: `encore -m server.cli serve --demo`);
* `encore --smoke-test [studio options]`: the studio, driven through sign-in, opening a track
  and 2 s of playback by packaging/bundle_smoke.py (what `make bundle-check` runs).

Before either starts, the bundle's own material is made the default: the demo catalog composed
at bundle time (ENCORE_DEMO_CACHE, so a first launch does not compose music), and the ahead-of-time
kernels are required (ENCORE_KERNELS=aot: the bundle has no numba to fall back on; a broken build
then says so instead of failing on a missing numba). Both stay overridable from the environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PLATFORM_MODULE = "server.cli"
SMOKE_FLAG = "--smoke-test"


def bundle_dir() -> Path:
    """Where the bundle's files are (`_internal` of the one-folder bundle), or the checkout."""
    return Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[1]))


def bundle_defaults() -> None:
    """The bundle's material as defaults, inherited by the platform child too."""
    catalog = bundle_dir() / "demo-catalog"
    if catalog.is_dir():
        os.environ.setdefault("ENCORE_DEMO_CACHE", str(catalog))
    if getattr(sys, "frozen", False):
        os.environ.setdefault("ENCORE_KERNELS", "aot")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    bundle_defaults()
    if args[:2] == ["-m", PLATFORM_MODULE]:
        from server.cli import main as platform_main

        sys.argv = [f"{sys.argv[0]} -m {PLATFORM_MODULE}", *args[2:]]
        return platform_main(args[2:])
    if args[:1] == [SMOKE_FLAG]:
        from bundle_smoke import run_smoke

        return run_smoke(args[1:])
    if args[:1] == ["-m"]:
        print(f"encore: only `-m {PLATFORM_MODULE}` runs inside the bundle", file=sys.stderr)
        return 2
    from ui.launch import main as studio_main

    return studio_main(args)


if __name__ == "__main__":
    sys.exit(main())
