"""Platform settings: one dataclass built by the CLI (or a test) and handed to `create_app`.

Settings are passed explicitly rather than read from globals so that two platforms with different
settings (e.g. a short access TTL) can run side by side in tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

DEMO_CACHE_ENV = "ENCORE_DEMO_CACHE"
DEFAULT_ACCESS_TTL = 900
DEFAULT_REFRESH_TTL = 30 * 24 * 3600
DEFAULT_DAILY_QUOTA = 20  # remix submissions per user per UTC day
DEFAULT_PLATFORM_SHARE_BP = 1500  # the platform's share of each remix's revenue: 15.00 %
DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # request bodies are recipes and forms: 1 MiB is plenty


def default_data_dir() -> Path:
    """Where a platform keeps its database and audio when no --data-dir is given."""
    return Path(user_data_dir("encore")) / "platform"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None = None
    access_ttl: int = DEFAULT_ACCESS_TTL
    refresh_ttl: int = DEFAULT_REFRESH_TTL
    demo: bool = False
    demo_cache_dir: Path | None = None
    run_worker: bool = True
    daily_quota: int = DEFAULT_DAILY_QUOTA
    platform_share_bp: int = DEFAULT_PLATFORM_SHARE_BP
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    @property
    def db_url(self) -> str:
        """A SQLAlchemy URL: SQLite in the data dir unless a server database was configured."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'platform.sqlite3').resolve()}"

    @property
    def demo_cache(self) -> Path:
        """The composed demo music is expensive, so tests share one cache via the environment."""
        env = os.environ.get(DEMO_CACHE_ENV)
        if env:
            return Path(env)
        if self.demo_cache_dir is not None:
            return self.demo_cache_dir
        return self.data_dir / "demo-catalog"
