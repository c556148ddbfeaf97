"""The gateway's settings: one frozen object, read once at start.

Sources, later ones winning: the defaults below, an optional TOML file named by
``GA4GW_CONFIG`` (keys are the setting names in lower case without the prefix,
e.g. ``data_dir = "/srv/ga4gw"``), then ``GA4GW_*`` environment variables.

Every setting is declared once in ``setting_specs.SPECS`` with its type, default and help line;
the README's settings table is checked against that list by a test. Secrets are
held in ``starlette.datastructures.Secret`` so that they never show in a repr or a log.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.datastructures import Secret

from gateway.errors import SettingsError

from .specs import PREFIX, SPECS, SettingSpec, parse_keyring

__all__ = [
    "PREFIX",
    "SPECS",
    "SettingSpec",
    "Settings",
    "checkout",
    "default_data_dir",
    "load_settings",
    "parse_keyring",
    "shown",
]


@dataclass(frozen=True)
class Settings:
    """Every setting, parsed. Build it with ``load_settings``; secrets are ``Secret`` values."""

    data_dir: Path
    warehouse_dsn: Secret
    clickhouse_cluster: str
    retention_months: int
    host: str
    port: int
    public_url: str
    signing_keys: Secret
    api_keys: Secret
    pseudonym_keys: Secret
    link_ttl_days: int
    fallback_url: str
    utm_override: bool
    utm_source: str
    landing_param: str
    landing_token_ttl: int
    landing_domains: tuple[str, ...]
    link_destinations: tuple[str, ...]
    track_unsubscribe: bool
    ip_v4_prefix: int
    ip_v6_prefix: int
    trusted_proxies: tuple[str, ...]
    scanner_markers: tuple[str, ...]
    apple_networks: tuple[str, ...]
    scanner_networks: tuple[str, ...]
    outbox_max_events: int
    outbox_sync: str
    pipeline_batch_rows: int
    pipeline_max_delay: float
    stall_seconds: float
    ga4_measurement_id: str
    ga4_api_secret: Secret
    ga4_origin: str
    ga4_concurrency: int
    ga4_timeout: float
    ga4_max_backoff: float
    ga4_expired: str
    ga4_batch_delay: float
    ga4_settle_seconds: float
    ga4_relay_verdicts: tuple[str, ...]
    ga4_ledger_days: int
    events_max_per_request: int
    sql_max_seconds: float
    sql_max_result_rows: int
    sql_max_result_bytes: int
    sql_max_memory: int
    sql_concurrency: int
    sql_queue: int
    sql_warehouse_dsn: Secret
    identity_max_persons: int
    identity_edge_window_days: int
    consent_opt_in_regions: tuple[str, ...]
    consent_granted_in_opt_in: tuple[str, ...]
    consent_denied_elsewhere: tuple[str, ...]
    consent_default_region: str
    consent_region_header: str
    consent_personal_links: bool
    consent_untracked: str
    consent_analytics_denied: str
    consent_policy_version: str
    consent_refresh: float
    http_max_header_bytes: int
    http_read_timeout: float
    rate_auth_failures: str
    rate_api: str
    rate_mp: str
    log_level: str
    log_format: str
    access_log_edge: bool
    attribution_conversion_events: tuple[str, ...]
    attribution_click_lookback_days: float
    attribution_open_lookback_days: float
    attribution_visit_lookback_days: float
    attribution_open_weight: float
    attribution_half_life_days: float
    attribution_fit_days: float
    attribution_nightly_at: str
    config_file: Path | None = None
    defaulted: frozenset[str] = frozenset()  # the settings neither the environment nor the file set

    @property
    def dsn(self) -> str:
        """The warehouse DSN in clear text, for the warehouse client only."""
        return str(self.warehouse_dsn) or f"chdb://{self.data_dir / 'warehouse'}"

    @property
    def sql_dsn(self) -> str:
        """The DSN analyst queries use, in clear text: their own, or the warehouse's."""
        return str(self.sql_warehouse_dsn) or self.dsn

    @property
    def ga4_dry_run(self) -> bool:
        return not (self.ga4_measurement_id and str(self.ga4_api_secret))

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def shown(settings: Settings) -> list[tuple[str, str]]:
    """Every setting as ``(GA4GW_NAME, value)`` written as the environment takes it (lists comma-separated), with
    secrets as ``(set)`` or ``(empty)``: what ``ga4gw settings`` prints and ``GET /v1/settings`` answers."""
    rows = []
    for spec in SPECS:
        value = getattr(settings, spec.name)
        if spec.secret:
            text = "(set)" if str(value) else "(empty)"
        elif isinstance(value, tuple):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            text = str(value).lower()
        else:
            text = str(value)
        rows.append((spec.env, text))
    return rows


def checkout() -> Path | None:
    """The project checkout this code runs from (where ``make run`` runs), or None when installed elsewhere."""
    root = Path(__file__).resolve().parents[2]
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    return root if project.get("name") == "ga4-gateway" else None


def default_data_dir() -> Path:
    """Where the gateway lives when ``GA4GW_DATA_DIR`` is not set: the checkout's ``var``, whatever the current
    directory, so that ``ga4gw`` run from anywhere finds the gateway ``make run`` started (and its keys)."""
    root = checkout()
    return root / "var" if root is not None else Path("var")


def _read_toml(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError("GA4GW_CONFIG", f"the file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError("GA4GW_CONFIG", f"{path} is not valid TOML: {exc}") from None
    known = {spec.name for spec in SPECS}
    values: dict[str, str] = {}
    for key, value in data.items():
        if key not in known:
            raise SettingsError("GA4GW_CONFIG", f"{path}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
        values[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build the settings from the environment (and the TOML file it names).

    A bad value raises ``SettingsError`` naming the variable and what it expects;
    the value itself is not repeated when the setting is a secret.
    """
    env = os.environ if environ is None else environ
    config_path = env.get(PREFIX + "CONFIG", "").strip()
    from_file = _read_toml(Path(config_path)) if config_path else {}
    values: dict[str, Any] = {}
    defaulted = set()
    for spec in SPECS:
        if spec.env not in env and spec.name not in from_file:
            defaulted.add(spec.name)
        raw = env.get(spec.env, from_file.get(spec.name, spec.default))
        try:
            parsed = spec.parse(raw)
        except ValueError as exc:
            shown = "" if spec.secret else f" (got {raw!r})"
            raise SettingsError(spec.env, f"expected {spec.expected}{shown}: {exc}") from None
        values[spec.name] = Secret(parsed) if spec.secret else parsed
    values["data_dir"] = Path(values["data_dir"]).expanduser() if values["data_dir"] else default_data_dir()
    settings = Settings(
        **values, config_file=Path(config_path) if config_path else None, defaulted=frozenset(defaulted)
    )
    return settings.replace(**overrides) if overrides else settings
