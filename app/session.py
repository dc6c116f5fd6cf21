"""Where a session survives a restart: the refresh token in the OS keyring, or nowhere.

Access tokens live in memory only. The refresh token goes to the OS keyring (Secret Service,
KWallet, macOS Keychain…) so a fan is not asked to sign in every time; where no keyring exists the
app says so and keeps the session in memory, rather than writing a token to a file.
"""

from __future__ import annotations

import contextlib
import json

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import KeyringError

SERVICE = "encore"
NO_KEYRING_MESSAGE = (
    "No system keyring was found (such as GNOME Keyring or KWallet), so Encore keeps your "
    "session in memory only: you will sign in again next time you start it."
)


def find_keyring() -> None:
    """Pick the system keyring now (keyring remembers it): asking every installed backend takes
    ~70 ms, which the studio spends on a worker while the platform starts (ui/shell.py) instead
    of on the main thread when sign-in becomes possible."""
    keyring.get_keyring()


class TokenVault:
    def __init__(self, platform_url: str, backend: KeyringBackend | None = None) -> None:
        self.entry = platform_url.rstrip("/")
        self.backend = backend or keyring.get_keyring()

    @property
    def available(self) -> bool:
        return not isinstance(self.backend, fail.Keyring)

    def save(self, username: str, refresh_token: str) -> bool:
        if not self.available:
            return False
        try:
            self.backend.set_password(
                SERVICE, self.entry, json.dumps({"username": username, "refresh": refresh_token})
            )
        except KeyringError:
            return False
        return True

    def load(self) -> tuple[str, str] | None:
        if not self.available:
            return None
        try:
            raw = self.backend.get_password(SERVICE, self.entry)
            data = json.loads(raw) if raw else None
            return (str(data["username"]), str(data["refresh"])) if data else None
        except (KeyringError, ValueError, KeyError, TypeError):
            return None

    def clear(self) -> None:
        if self.available:
            with contextlib.suppress(KeyringError):
                self.backend.delete_password(SERVICE, self.entry)
