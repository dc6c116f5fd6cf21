"""Sessions across restarts: the refresh token in the keyring, never a file; logout revokes."""

from __future__ import annotations

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from app.client import AuthError, PlatformClient
from app.session import TokenVault


class MemoryKeyring(KeyringBackend):
    """Stands in for the OS keyring (Secret Service, KWallet), which this headless machine has
    not: the vault talks to it through keyring's real backend interface."""

    # keyring registers every backend subclass for discovery; below fail.Keyring's 0, discovery
    # never picks this one, so it cannot leak into other tests' app instances.
    priority = -1

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        self.items.pop((service, username), None)


def test_session_resumes_from_the_keyring_and_follows_rotation(platform):
    vault = TokenVault(platform.url, backend=MemoryKeyring())
    client = PlatformClient(platform.url)
    client.on_tokens = vault.save
    client.login("fan", "encore-demo")
    username, first = vault.load()
    assert username == "fan"

    # A new app start: no password, the stored refresh token signs in (and rotates).
    restarted = PlatformClient(platform.url)
    restarted.on_tokens = vault.save
    assert restarted.resume(first).username == "fan"
    _, second = vault.load()
    assert second != first
    assert restarted.tracks()

    # Sign out revokes on the platform; the stored token is cleared and no longer works.
    restarted.logout()
    vault.clear()
    assert vault.load() is None
    with pytest.raises(AuthError):
        PlatformClient(platform.url).resume(second)


def test_without_a_keyring_nothing_is_stored(platform, tmp_path):
    vault = TokenVault(platform.url, backend=fail.Keyring())
    assert not vault.available
    assert vault.save("fan", "token") is False
    assert vault.load() is None
