"""`encore-platform`: serve the platform, seed the demo, create users."""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import getpass
import logging
import os
import socket
import sys
import threading
from pathlib import Path

import uvicorn

from core.contract import Role, Tier
from server.config import (
    DEFAULT_ACCESS_TTL,
    DEFAULT_DAILY_QUOTA,
    DEFAULT_PLATFORM_SHARE_BP,
    Settings,
    default_data_dir,
)

READY_MARKER = "ENCORE_PLATFORM_READY"
KEEP_ALIVE_S = 75  # seconds an idle client connection stays open (as behind most proxies)


class _ReadyServer(uvicorn.Server):
    """Announces the URL only once the app has started and the socket is being served, so the
    launcher (app.embedded) never connects to a half-initialised platform."""

    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self.url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            print(f"{READY_MARKER} {self.url}", flush=True)


def _settings(args: argparse.Namespace, demo: bool) -> Settings:
    settings = Settings(
        data_dir=Path(args.data_dir).expanduser(),
        database_url=args.database_url,
        access_ttl=getattr(args, "access_ttl", DEFAULT_ACCESS_TTL),
        demo=demo,
        daily_quota=getattr(args, "daily_quota", DEFAULT_DAILY_QUOTA),
        platform_share_bp=getattr(args, "platform_share_bp", DEFAULT_PLATFORM_SHARE_BP),
        run_worker=not getattr(args, "no_worker", False),
        test_clock=getattr(args, "test_clock", False),
    )
    if args.storage_dir:  # otherwise the environment's (ENCORE_STORAGE_DIR) or the data dir
        settings = dataclasses.replace(settings, storage_dir=Path(args.storage_dir).expanduser())
    return settings


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args, demo=args.demo)
    if settings.is_sqlite and not settings.run_worker:
        print(
            "--no-worker needs a PostgreSQL database (--database-url): on SQLite this process "
            "is the only one that can render.",
            file=sys.stderr,
        )
        return 2
    if settings.is_sqlite and not _hold_data_dir(settings.data_dir):
        print(
            f"Another platform already serves {settings.data_dir} (SQLite has one server per "
            "data dir). Stop it, or pass another --data-dir.",
            file=sys.stderr,
        )
        return 3
    from server.main import create_app  # after the lock: a refused second start stays cheap

    # Bind ourselves so that --port 0 can report the port the OS actually chose.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it a small response whose headers and body go
    # out in two writes waits ~40 ms for the client's delayed ACK (Nagle), on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"Cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    sock.listen(2048)  # a popular drop: hundreds of clients connect at the same instant
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        access_log=False,
        lifespan="on",
        # uvicorn closes an idle connection after 5 s by default: a client that pauses about
        # that long (a person between clicks) could send on a connection closing at that very
        # moment and see a reset (1 in 10 000 requests in benchmarks/load.py --think 5).
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    server = _ReadyServer(config, f"http://{host}:{port}")
    if args.exit_with_stdin:
        _exit_when_stdin_closes(server)
    server.run(sockets=[sock])
    return 0


_held: list[int] = []  # the lock's descriptor, open for the life of the process


def _hold_data_dir(data_dir: Path) -> bool:
    """One SQLite platform per data dir: two would share one database file and one render queue
    of rows. The lock is the kernel's (flock), so it goes with the process however it ends."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / "platform.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _held.append(fd)
    return True


def _exit_when_stdin_closes(server: uvicorn.Server) -> None:
    """An embedded platform must not outlive the app that started it, even a killed one: the app
    holds our stdin open, and the kernel closes it when the app dies however it dies."""

    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        server.should_exit = True

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def cmd_worker(args: argparse.Namespace) -> int:
    from server.worker import run_worker

    logging.getLogger("encore").setLevel(logging.INFO)
    return run_worker(_settings(args, demo=False))


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from server.db import init_db, make_engine, make_sessionmaker
    from server.demo import seed_demo
    from server.storage import Storage

    settings = _settings(args, demo=True)
    engine = make_engine(settings.db_url)
    init_db(engine)
    with make_sessionmaker(engine)() as db:
        seed_demo(db, Storage(settings.storage_root), settings.demo_cache)
    print(f"Demo accounts and catalog are ready in {settings.data_dir}.")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from server.db import init_db, make_engine, make_sessionmaker
    from server.demo import ensure_user

    password = args.password or getpass.getpass(f"Password for {args.username}: ")
    if len(password) < 8:
        print("Choose a password of at least 8 characters.", file=sys.stderr)
        return 2
    settings = _settings(args, demo=False)
    engine = make_engine(settings.db_url)
    init_db(engine)
    roles = [Role.FAN, Role.ARTIST] if args.artist else [Role.FAN]
    with make_sessionmaker(engine)() as db:
        user = ensure_user(
            db,
            args.username,
            password,
            display_name=args.display_name or args.username,
            tier=Tier(args.tier),
            roles=roles,
            reset_password=True,
        )
        db.commit()
        print(f"User '{user.username}' ({user.tier}) is ready.")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    """QA re-render of a remix document, exactly as the platform publishes it."""
    from pydantic import ValidationError
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from core.contract import RemixDocument, RightsPolicy
    from server.db import Track, init_db, make_engine, make_sessionmaker
    from server.pipeline import check_document, render_to_file
    from server.storage import Storage

    try:
        doc = RemixDocument.model_validate_json(Path(args.document).read_bytes())
    except OSError as exc:
        print(f"Cannot read {args.document}: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"{args.document} is not a valid remix document:\n{exc}", file=sys.stderr)
        return 2
    settings = _settings(args, demo=False)
    engine = make_engine(settings.db_url)
    init_db(engine)
    with make_sessionmaker(engine)() as db:
        track = db.scalar(
            select(Track).where(Track.id == doc.track_id).options(selectinload(Track.stems))
        )
        if track is None:
            print(
                f"No track '{doc.track_id}' on this platform ({settings.data_dir}).",
                file=sys.stderr,
            )
            return 2
        policy = RightsPolicy.model_validate(track.policy or {})
        problems = check_document(doc, track, policy, Storage(settings.storage_root))
        for problem in problems:
            print(f"policy: {problem.code}: {problem.message}", file=sys.stderr)
        if problems and not args.ignore_policy:
            print("Refusing to render (use --ignore-policy for QA).", file=sys.stderr)
            return 3
        out = Path(args.out).expanduser().resolve()
        loudness = render_to_file(
            doc, track, Storage(settings.storage_root), out, normalised=not args.no_normalise
        )
    print(
        f"Rendered {out}: {loudness.measured_lufs:.1f} LUFS -> {loudness.output_lufs:.1f} LUFS, "
        f"true peak {loudness.output_true_peak_dbtp:.1f} dBTP"
    )
    return 0


def _add_test_clock(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--test-clock",
        action="store_true",
        help="tests and QA only, never in production: time is the real time plus the seconds "
        "written in DATA_DIR/test-clock-offset (server/clock.py), so a test can expire tokens "
        "or pass midnight without waiting",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="encore-platform", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=str(default_data_dir()),
        help="database and audio live here (default: %(default)s)",
    )
    common.add_argument(
        "--database-url", default=None, help="SQLAlchemy URL; default SQLite in the data dir"
    )
    common.add_argument(
        "--storage-dir",
        default=None,
        help="stems, renders and the platform secret, shared by every API and worker process "
        "(a network mount when they run on several machines; default: the data dir, or "
        "$ENCORE_STORAGE_DIR)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the platform HTTP server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument("--demo", action="store_true", help="seed demo accounts and music")
    serve.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop when standard input closes (an embedding app's lifeline)",
    )
    serve.add_argument(
        "--access-ttl", type=int, default=DEFAULT_ACCESS_TTL, help="access token lifetime (s)"
    )
    serve.add_argument(
        "--daily-quota",
        type=int,
        default=DEFAULT_DAILY_QUOTA,
        help="remix submissions per user per UTC day (default: %(default)s)",
    )
    serve.add_argument(
        "--platform-share-bp",
        type=int,
        choices=range(0, 5001),
        metavar="0..5000",
        default=DEFAULT_PLATFORM_SHARE_BP,
        help="the platform's share of remix revenue in basis points (default: %(default)s)",
    )
    serve.add_argument(
        "--no-worker",
        action="store_true",
        help="render nothing here: `encore-platform worker` processes render (PostgreSQL only)",
    )
    _add_test_clock(serve)
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser(
        "worker",
        parents=[common],
        help="render submitted remixes from the shared queue (PostgreSQL; run any number)",
    )
    _add_test_clock(worker)
    worker.set_defaults(func=cmd_worker)

    seed = sub.add_parser("seed-demo", parents=[common], help="seed demo accounts and music")
    seed.set_defaults(func=cmd_seed_demo)

    create = sub.add_parser("create-user", parents=[common], help="create or update a user")
    create.add_argument("username")
    create.add_argument("--tier", choices=[t.value for t in Tier], default=Tier.FREE.value)
    create.add_argument("--artist", action="store_true", help="also give the artist role")
    create.add_argument("--display-name", default=None)
    create.add_argument("--password", default=None, help="prompted for when omitted")
    create.set_defaults(func=cmd_create_user)

    render = sub.add_parser(
        "render", parents=[common], help="render a remix document to a FLAC file (QA)"
    )
    render.add_argument("document", help="a remix document (.json)")
    render.add_argument("--out", required=True, help="the FLAC file to write")
    render.add_argument("--no-normalise", action="store_true", help="skip loudness normalisation")
    render.add_argument(
        "--ignore-policy", action="store_true", help="render even if the policy refuses it"
    )
    render.set_defaults(func=cmd_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
