"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.contract import API_PREFIX, ErrorResponse, Health
from server.admission import Admission
from server.catalog_cache import CatalogCache
from server.config import Settings
from server.db import init_db, make_engine, make_sessionmaker
from server.delivery import DeliveryLimiter
from server.demo import seed_demo
from server.demo_remixes import DemoRemixSeeder
from server.disclosure import encore_version
from server.errors import ApiError, install_error_handlers
from server.limits import BodySizeLimit
from server.queue import ensure_queue_schema, make_render_queue
from server.routes import artist, auth, feed, me, remixes, tracks
from server.secrets_store import load_or_create_secret
from server.security import HashGate
from server.storage import Storage, make_private_dir
from server.text import refuse_control_characters
from server.threads import limit_request_threads, signin_threads
from server.throttle import SignInThrottle


def create_app(settings: Settings) -> FastAPI:
    """Build an app bound to `settings`; the database, demo data and worker start in lifespan."""
    make_private_dir(settings.data_dir)  # before the database file is made in it
    engine = make_engine(settings.db_url, settings.max_in_flight)
    sessions = make_sessionmaker(engine)
    storage = Storage(settings.storage_root)
    clock = settings.make_clock()  # every time-of-day rule reads this one (server/clock.py)
    pipeline = make_render_queue(settings, sessions, storage, clock)  # server/queue.py

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        limit_request_threads(settings)  # on this loop: its default thread pool (threads.py)
        _app.state.signin_threads = signin_threads(settings)
        init_db(engine)
        if not settings.is_sqlite:
            ensure_queue_schema(engine)
        if settings.demo:
            with sessions() as db:
                seed_demo(db, storage, settings.demo_cache)
        if settings.run_worker:
            pipeline.start()
        # Other fans' remixes, submitted and rendered in the background (server/demo_remixes.py).
        seeder = None
        if settings.demo and settings.demo_remixes:
            seeder = DemoRemixSeeder(_app).start()
        try:
            yield
        finally:
            if seeder is not None:
                seeder.stop()
            pipeline.stop()
            engine.dispose()

    app = FastAPI(
        title="Encore platform",
        version="1",
        summary="Stems for superfans; remix documents in, published remixes out.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.storage = storage
    app.state.pipeline = pipeline
    app.state.secret = load_or_create_secret(settings.storage_root)  # one for every process
    app.state.clock = clock
    app.state.catalog_cache = CatalogCache()  # server/catalog_cache.py
    app.state.delivery = DeliveryLimiter(settings.delivery_tracks_per_hour, clock=clock.monotonic)
    app.state.signin_throttle = SignInThrottle(
        settings.signin_account_failures,
        settings.signin_address_failures,
        settings.signin_window,
        clock=clock.monotonic,
    )
    app.state.hash_gate = HashGate(settings.hash_slots, settings.hash_queue, settings.hash_wait)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    # Outermost: a request waits for a slot before anything else (server/admission.py).
    app.add_middleware(
        Admission,
        slots=settings.max_in_flight,
        wait_s=settings.admission_wait,
        work_slots=settings.work_in_flight,
    )

    # Every route: no control characters in any parameter or field (server/text.py).
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(refuse_control_characters)])

    @api.get("/health", response_model=Health, tags=["meta"])
    async def health() -> Health:
        """Liveness, and the platform's software version (shown to QA in Diagnostics).

        On the event loop itself: it never waits for a worker thread, a database connection or
        the admission queue, so a busy platform still answers it at once."""
        return Health(version=encore_version())

    @api.get(
        "/ready",
        response_model=Health,
        tags=["meta"],
        responses={503: {"model": ErrorResponse}},
    )
    def ready() -> Health:
        """Readiness: the database answers (a load balancer sends traffic only then)."""
        try:
            with sessions() as db:
                db.execute(text("SELECT 1"))
        except SQLAlchemyError:
            raise ApiError(
                503,
                "not_ready",
                "The platform's database is not answering. Check that it is running and "
                "reachable; this check passes again once it does.",
                headers={"Retry-After": "5"},
            ) from None
        return Health(version=encore_version())

    for module in (auth, me, tracks, remixes, artist, feed):
        api.include_router(module.router)
    app.include_router(api)
    return app
