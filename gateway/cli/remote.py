"""Where the gateway lives, and how a command talks to it: the one way every ``ga4gw`` command finds it.

The data directory is ``GA4GW_DATA_DIR``, else the ``var`` of the checkout ga4gw runs from (the settings resolve
that, whatever the current directory). A gateway that owns it has written its run file there
(``gateway.stores.runfile``); ``find`` returns it, and ``Remote`` calls its API with a short-lived token minted
from the keyring, so a command acts with the running process's settings (its port, public URL, keys, GA4 mode)
rather than with the shell's. With no gateway running, commands work directly on the data directory, and
``require_data_dir`` / ``require_warehouse`` refuse, naming ``GA4GW_DATA_DIR``, when there is nothing there,
instead of creating an empty store that answers nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.config.settings import Settings
from gateway.errors import CommandError
from gateway.stores import runfile

__all__ = ["Remote", "find", "none_runs", "require_data_dir", "require_warehouse"]

# What any gateway that ran on a directory leaves there: its outbox, or its generated keys.
_MARKS = ("outbox.sqlite3", "keys.json")


@dataclass(frozen=True)
class Remote:
    """The running gateway that owns the data directory, and its API as the CLI calls it."""

    settings: Settings
    owner: runfile.RunInfo

    @property
    def url(self) -> str:
        return self.owner.url

    @property
    def name(self) -> str:
        """How messages name it: ``the gateway (pid 123) at http://127.0.0.1:8080``."""
        return f"the gateway (pid {self.owner.pid}) at {self.owner.url}"

    def token(self, scopes: list[str], ttl: float, subject: str = "cli") -> str:
        """A token the gateway accepts, minted from the API keyring (configured, or the data directory's)."""
        from gateway.api.auth import TokenAuthority
        from gateway.config.keys import load_keyrings

        return TokenAuthority(load_keyrings(self.settings).api).issue(subject, scopes, ttl)

    def call(
        self,
        method: str,
        path: str,
        scopes: list[str],
        *,
        timeout: float | httpx.Timeout = 30.0,
        subject: str = "cli",
        **kwargs: Any,
    ) -> httpx.Response:
        """One request to the gateway's API; a connection failure or a refused token is a ``CommandError``."""
        # The token lives as long as the request may: a day when reading has no time limit (an upload).
        ttl = (timeout.read or 24 * 3600.0) if isinstance(timeout, httpx.Timeout) else timeout
        headers = {"authorization": f"Bearer {self.token(scopes, ttl + 60, subject)}", **kwargs.pop("headers", {})}
        try:
            response = httpx.request(method, self.url + path, headers=headers, timeout=timeout, **kwargs)
        except httpx.HTTPError as exc:
            raise CommandError(f"{self.name} did not answer: {exc}") from None
        self.check_auth(response)
        return response

    @contextmanager
    def stream(
        self, method: str, path: str, scopes: list[str], *, timeout: float, **kwargs: Any
    ) -> Iterator[httpx.Response]:
        """A request whose answer is read as it arrives (``ga4gw sql``)."""
        headers = {"authorization": f"Bearer {self.token(scopes, timeout + 60)}", **kwargs.pop("headers", {})}
        try:
            with httpx.stream(method, self.url + path, headers=headers, timeout=timeout, **kwargs) as response:
                self.check_auth(response)
                yield response
        except httpx.HTTPError as exc:
            raise CommandError(f"{self.name} did not answer: {exc}") from None

    def check_auth(self, response: httpx.Response) -> None:
        """A 401 means the gateway runs with other API keys than this command's: say which setting to align."""
        if response.status_code == 401:
            raise CommandError(
                f"{self.name} refused this command's token: it runs with other API keys; "
                "give this command the gateway's GA4GW_API_KEYS (or its GA4GW_DATA_DIR)"
            )

    def json(self, response: httpx.Response, expect: tuple[int, ...] = (200,)) -> dict[str, Any]:
        """The JSON answer, or a ``CommandError`` quoting what the gateway said."""
        if response.status_code not in expect:
            raise CommandError(f"{self.name} answered {response.status_code}: {response.text.strip()[:2000]}")
        answer: dict[str, Any] = response.json()
        return answer


def find(settings: Settings) -> Remote | None:
    """The gateway that owns the data directory, if its process runs."""
    owner = runfile.read(settings.data_dir)
    return None if owner is None else Remote(settings, owner)


def none_runs(settings: Settings) -> str:
    """The line a command prints when it works without a gateway: where it looked."""
    return f"no gateway runs on {settings.data_dir} (GA4GW_DATA_DIR)"


def require_data_dir(settings: Settings) -> Path:
    """The data directory, if a gateway ever ran on it; else a ``CommandError`` saying where it looked."""
    data_dir = settings.data_dir
    if not any((data_dir / mark).exists() for mark in _MARKS):
        raise CommandError(
            f"no gateway data directory at {data_dir.resolve()}: no gateway runs or ran there. Set GA4GW_DATA_DIR "
            "to the gateway's data directory, or start one with `make run` (or `ga4gw serve`)",
            2,
        )
    return data_dir


def require_warehouse(settings: Settings, dsn: str | None = None) -> None:
    """Refuse to open an embedded warehouse that does not exist: it would be created empty, with no tables."""
    from warehouse import parse_dsn

    target = parse_dsn(dsn or settings.dsn)
    if target.embedded and target.path and not Path(target.path).exists():
        raise CommandError(
            f"no warehouse at {target.path}: no gateway ran on {settings.data_dir.resolve()}. Set GA4GW_DATA_DIR "
            "to the gateway's data directory (or GA4GW_WAREHOUSE_DSN), or create the schema there with `ga4gw migrate`",
            2,
        )
