"""The duplicate checks' cost against a track's live remixes: 10 of them, then 10 000.

Run from the repository root:  .venv/bin/python benchmarks/duplicates.py [--counts 10 10000]
Prints ONE JSON line. A throwaway SQLite platform database in a temp dir (the demo seeded, no
server), one demo track, N live remixes stored as a submission stores them (canonical hash,
near-duplicate shape and key), then `server.antispam.check_duplicates` for a new recipe that
duplicates none of them, timed as a submission runs it (median of repeated calls, warm).

Two populations, because the near-duplicate rule looks up remixes of the same *shape* (same
audible stems, mutes, key and other settings) and compares their levels and tempo:

* `varied`: every stored remix has its own shape (each mutes a different stem set or shifts
  the key differently) — the index finds none of them;
* `same_shape`: every stored remix only moves the stems' levels (the commonest remix), so all
  of them share the new recipe's shape; their tempo ratios (1.00-1.29) differ from the new one's;
* `same_tempo`: as `same_shape`, all at tempo 1.0 like the new recipe: only the mean level
  (within 1 dB) narrows the look-up, so the remixes whose levels average close to the new one's
  are read and compared (the rule's worst case; with 10 000 stored, about a tenth of them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.machine import machine_info  # noqa: E402
from core.contract import RemixDocument  # noqa: E402
from core.remix import audible_stems  # noqa: E402
from server.antispam import check_duplicates, near_columns, near_key  # noqa: E402
from server.config import Settings  # noqa: E402
from server.db import Remix, Track, User, init_db, make_engine, make_sessionmaker  # noqa: E402
from server.demo import seed_demo  # noqa: E402
from server.pipeline import canonical_hash  # noqa: E402
from server.storage import Storage  # noqa: E402


def recipe(track: Track, stems: list[str], i: int, population: str) -> RemixDocument:
    """The i-th stored remix: distinct canonical hashes always, shapes as `population` says."""
    settings = {s: {"gain_db": -((i // 40**k) % 40) * 0.5} for k, s in enumerate(stems)}
    doc = {
        "format": "encore.remix/1",
        "track_id": track.id,
        "track_version": track.version,
        "title": f"Remix {i}",
        "stems": settings,
        "tempo_ratio": 1.0 if population == "same_tempo" else 1.0 + (i % 30) * 0.01,
    }
    if population == "varied":
        doc["key_shift"] = (i % 7) - 3
        muted = [s for k, s in enumerate(stems) if (i >> k) & 1 and k < len(stems) - 1]
        for s in muted:
            settings[s]["mute"] = True
        doc["stems"][stems[-1]]["pan"] = ((i // 128) % 100) / 100  # pan is not in the shape
    return RemixDocument.model_validate(doc)


def populate(db, track: Track, user: User, count: int, population: str) -> None:
    stems = [s.id for s in track.stems]
    for i in range(count):
        doc = recipe(track, stems, i, population)
        audible = audible_stems(doc, stems)
        db.add(
            Remix(
                user_id=user.id,
                track_id=track.id,
                idempotency_key=f"bench-{population}-{i}",
                title=doc.title,
                document=doc.model_dump(mode="json"),
                document_hash=f"{i:064x}",
                status="published",
                canonical_hash=canonical_hash(doc, stems),
                **near_columns(near_key(doc, audible)),
            )
        )
        if i % 1000 == 999:
            db.flush()
    db.commit()


def time_check(db, track: Track, user: User, population: str, repeat: int) -> float:
    stems = [s.id for s in track.stems]
    fresh = recipe(track, stems, 10**6 + 1, population)
    if population != "same_tempo":
        fresh = fresh.model_copy(update={"tempo_ratio": 0.7})  # no stored tempo is this close
    audible = audible_stems(fresh, stems)
    canonical = canonical_hash(fresh, stems)
    check_duplicates(db, user, fresh, canonical, audible, stems)  # warm
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        check_duplicates(db, user, fresh, canonical, audible, stems)
        times.append(time.perf_counter() - start)
        db.rollback()
    return statistics.median(times)


def run(counts: list[int], repeat: int) -> dict:
    result: dict = {"benchmark": "duplicates", "machine": machine_info()}
    with tempfile.TemporaryDirectory(prefix="encore-bench-dup-") as tmp:
        for population in ("varied", "same_shape", "same_tempo"):
            figures = {}
            for count in counts:
                data = Path(tmp) / f"{population}-{count}"
                settings = Settings(data_dir=data, demo=True)
                data.mkdir(parents=True)
                engine = make_engine(settings.db_url)
                init_db(engine)
                with make_sessionmaker(engine)() as db:
                    seed_demo(db, Storage(settings.storage_root), settings.demo_cache)
                    track = db.query(Track).order_by(Track.title).first()
                    user = db.query(User).filter(User.username == "fan").one()
                    populate(db, track, user, count, population)
                    seconds = time_check(db, track, user, population, repeat)
                    figures[str(count)] = round(seconds * 1000, 3)
                engine.dispose()
            lo, hi = figures[str(min(counts))], figures[str(max(counts))]
            result[population] = {"check_ms": figures, "ratio": round(hi / lo, 2)}
    result["loadavg"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 10_000])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(run(args.counts, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
