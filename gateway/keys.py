"""Key material: the keyrings from settings, or development keys generated into the data directory.

A fresh checkout must run with no settings, so when ``GA4GW_SIGNING_KEYS`` or
``GA4GW_API_KEYS`` is empty a keyring is generated once into ``<data_dir>/keys.json``
(mode 0600) and a warning says so. Key material is never logged or printed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .errors import SettingsError
from .settings import Settings, parse_keyring

__all__ = ["Keyring", "load_keyrings"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Keyring:
    """Named secrets, newest first: the first signs, all verify."""

    keys: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a keyring needs at least one key")

    @property
    def current(self) -> tuple[str, str]:
        return self.keys[0]

    def get(self, kid: str) -> str | None:
        return dict(self.keys).get(kid)

    def __repr__(self) -> str:
        return f"Keyring(kids={[kid for kid, _ in self.keys]})"


def _dev_keys(data_dir: Path) -> dict[str, list[list[str]]]:
    path = data_dir / "keys.json"
    if path.exists():
        try:
            stored: dict[str, list[list[str]]] = json.loads(path.read_text(encoding="utf-8"))
            return stored
        except (OSError, ValueError) as exc:
            raise SettingsError("GA4GW_DATA_DIR", f"{path} is unreadable ({exc}); delete it to regenerate") from None
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = {name: [[f"dev{secrets.token_hex(2)}", secrets.token_urlsafe(32)]] for name in ("signing", "api")}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(generated, handle)
    log.warning("generated development keys into %s; set GA4GW_SIGNING_KEYS and GA4GW_API_KEYS in production", path)
    return generated


def load_keyrings(settings: Settings) -> tuple[Keyring, Keyring]:
    """The (signing, api) keyrings: from settings, else development keys in the data directory."""
    signing = parse_keyring(str(settings.signing_keys))
    api = parse_keyring(str(settings.api_keys))
    if not signing or not api:
        dev = _dev_keys(settings.data_dir)
        signing = signing or tuple((kid, secret) for kid, secret in dev["signing"])
        api = api or tuple((kid, secret) for kid, secret in dev["api"])
    return Keyring(signing), Keyring(api)
