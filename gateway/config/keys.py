"""Key material: the keyrings from settings, or development keys generated into the data directory.

A fresh checkout must run with no settings, so when ``GA4GW_SIGNING_KEYS`` or
``GA4GW_API_KEYS`` is empty a keyring is generated once into ``<data_dir>/keys.json``
(mode 0600) and a warning says so. Only the gateway itself (``ga4gw serve``) generates them: a CLI
command that made its own keys would sign tokens and links no gateway accepts, so it refuses instead,
naming ``GA4GW_DATA_DIR``. Key material is never logged or printed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import SettingsError

from .settings import Settings, parse_keyring

__all__ = ["Keyring", "Keys", "load_keyrings"]

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


_RINGS = {"signing": "GA4GW_SIGNING_KEYS", "api": "GA4GW_API_KEYS", "pseudonym": "GA4GW_PSEUDONYM_KEYS"}


@dataclass(frozen=True)
class Keys:
    """The three keyrings: tracking links, API tokens, pseudonyms."""

    signing: Keyring
    api: Keyring
    pseudonym: Keyring


def _dev_keys(data_dir: Path, generate: bool) -> dict[str, list[list[str]]]:
    """Development keyrings from ``<data_dir>/keys.json``, generating any that are missing when ``generate``."""
    path = data_dir / "keys.json"
    stored: dict[str, list[list[str]]] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError("GA4GW_DATA_DIR", f"{path} is unreadable ({exc}); delete it to regenerate") from None
    missing = [name for name in _RINGS if name not in stored]
    if missing and not generate:
        names = ", ".join(_RINGS[name] for name in missing)
        raise SettingsError(
            "GA4GW_DATA_DIR",
            f"{data_dir} holds no gateway's development keys (no {path.name}), so nothing signed here would be "
            "accepted: set GA4GW_DATA_DIR to the data directory of the gateway (start one with `make run` or "
            f"`ga4gw serve`, the only command that generates keys), or set {names}",
        )
    if missing:
        for name in missing:
            stored[name] = [[f"dev{secrets.token_hex(2)}", secrets.token_urlsafe(32)]]
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(stored, handle)
        tmp.replace(path)
        names = ", ".join(_RINGS[name] for name in missing)
        log.warning("generated development keys into %s; set %s in production", path, names)
    return stored


def load_keyrings(settings: Settings, *, generate: bool = False) -> Keys:
    """The keyrings from settings; any left empty comes from development keys in the data directory, generated
    there only when ``generate`` (the gateway's start); otherwise missing keys raise ``SettingsError``."""
    configured = {
        "signing": parse_keyring(str(settings.signing_keys)),
        "api": parse_keyring(str(settings.api_keys)),
        "pseudonym": parse_keyring(str(settings.pseudonym_keys)),
    }
    if not all(configured.values()):
        dev = _dev_keys(settings.data_dir, generate)
        for name, ring in configured.items():
            configured[name] = ring or tuple((kid, secret) for kid, secret in dev[name])
    return Keys(Keyring(configured["signing"]), Keyring(configured["api"]), Keyring(configured["pseudonym"]))
