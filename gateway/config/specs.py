"""Every setting, declared once: its parser, default, help line and what a bad value should have been.

``gateway.config.settings`` builds the ``Settings`` object from these; the README's table is generated from
them (``ga4gw settings --markdown``) and a test checks the two agree.
"""

from __future__ import annotations

from . import parsers as p
from .parsers import PREFIX, SettingSpec, parse_keyring
from .specs_access import ACCESS_SPECS
from .specs_attribution import ATTRIBUTION_SPECS
from .specs_consent import CONSENT_SPECS

__all__ = ["PREFIX", "SPECS", "SettingSpec", "parse_keyring"]

_KEYRING = "comma-separated key_id:secret pairs, newest first, secrets of 32+ characters"

SPECS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "data_dir",
        p.text,
        "",
        "Directory for the local store, generated dev keys and the embedded warehouse. Empty means `var` in "
        "the checkout ga4gw runs from, wherever the command is run (./var when installed outside a checkout).",
        "a directory path",
    ),
    SettingSpec(
        "warehouse_dsn",
        p.dsn,
        "",
        "ClickHouse to use: chdb://PATH (embedded) or http(s)://user:pass@host:port/db. "
        "Empty means chdb://<data_dir>/warehouse.",
        "chdb://PATH or http(s)://user:password@host:port/database",
        secret=True,
    ),
    SettingSpec(
        "clickhouse_cluster",
        p.identifier,
        "",
        "ClickHouse cluster name; when set, migrations use ON CLUSTER, "
        "Replicated engines and Distributed tables. Empty means a single node.",
        "a cluster name",
    ),
    SettingSpec(
        "retention_months",
        p.int_range(1, 120),
        "14",
        "How long events stay in the warehouse (a TTL on tables).",
        "a whole number of months, 1 to 120",
    ),
    SettingSpec("host", p.text, "127.0.0.1", "Address `ga4gw serve` listens on.", "an IP address or host name"),
    SettingSpec("port", p.int_range(0, 65535), "8080", "Port `ga4gw serve` listens on.", "a port number, 0 to 65535"),
    SettingSpec(
        "public_url",
        p.http_url,
        "http://127.0.0.1:8080",
        "Public base URL of the tracking domain; tracked links and pixels start with it.",
        "an http(s) URL",
    ),
    SettingSpec(
        "signing_keys",
        p.keyring_text,
        "",
        "Keys that sign tracking links and pixels. Empty means keys "
        "generated into the data directory (development only).",
        _KEYRING,
        secret=True,
    ),
    SettingSpec(
        "api_keys",
        p.keyring_text,
        "",
        "Keys that sign API tokens (JWT HS256). Empty means keys generated into the data directory (development only).",
        _KEYRING,
        secret=True,
    ),
    SettingSpec(
        "pseudonym_keys",
        p.keyring_text,
        "",
        "Keys of the keyed pseudonyms (HMAC-SHA256) of emails and other "
        "identifiers. Empty means keys generated into the data directory (development only).",
        _KEYRING,
        secret=True,
    ),
    SettingSpec(
        "link_ttl_days",
        p.int_range(0, 3650),
        "0",
        "Default lifetime of new tracking links; an expired link "
        "still redirects but is recorded as expired. 0 means no expiry.",
        "a whole number of days, 0 to 3650",
    ),
    SettingSpec(
        "fallback_url",
        p.optional_url,
        "",
        "Where a tampered or unknown click link goes. Empty shows a small 'link not valid' page (404).",
        "an http(s) URL or empty",
    ),
    SettingSpec(
        "utm_override",
        p.boolean,
        "false",
        "Replace utm_* parameters the destination already has (default: keep them).",
        "true or false",
    ),
    SettingSpec(
        "utm_source",
        p.text,
        "newsletter",
        "utm_source added to click redirects (utm_medium is always email).",
        "a short word",
    ),
    SettingSpec(
        "landing_param",
        p.identifier,
        "ga4gw_lt",
        "Query parameter that carries the landing token on the redirect to the shop.",
        "a parameter name",
    ),
    SettingSpec(
        "landing_token_ttl",
        p.int_range(60, 1800),
        "1800",
        "Lifetime of the landing token in seconds (at most 30 minutes).",
        "60 to 1800 seconds",
    ),
    SettingSpec(
        "landing_domains",
        p.hosts,
        "",
        "Hosts whose destinations get the landing token (a listed domain covers its subdomains). "
        "Empty: the registrable domain of GA4GW_PUBLIC_URL. Other sites never see a token.",
        "comma-separated host names",
    ),
    SettingSpec(
        "link_destinations",
        p.hosts,
        "",
        "Hosts that tracked links may lead to (a listed domain covers its subdomains); "
        "signing any other destination is refused. Empty: any http(s) destination.",
        "comma-separated host names",
    ),
    SettingSpec(
        "track_unsubscribe", p.boolean, "false", "Rewrite unsubscribe links into tracked links too.", "true or false"
    ),
    SettingSpec(
        "ip_v4_prefix",
        p.int_range(0, 32),
        "24",
        "Bits of an IPv4 address kept in the warehouse (0 keeps none). The full address is only used in memory.",
        "0 to 32",
    ),
    SettingSpec(
        "ip_v6_prefix",
        p.int_range(0, 128),
        "48",
        "Bits of an IPv6 address kept in the warehouse (0 keeps none).",
        "0 to 128",
    ),
    SettingSpec(
        "trusted_proxies",
        p.networks,
        "127.0.0.1",
        "Addresses or networks of reverse proxies whose X-Forwarded-For is believed.",
        "comma-separated IPs or CIDRs",
    ),
    SettingSpec(
        "scanner_markers",
        p.words,
        "",
        "Extra user-agent substrings that mark a link scanner, added to the built-in list.",
        "comma-separated words",
    ),
    SettingSpec(
        "apple_networks",
        p.networks,
        "17.0.0.0/8",
        "Networks Apple's Mail Privacy Protection fetches from.",
        "comma-separated CIDRs",
    ),
    SettingSpec(
        "scanner_networks",
        p.networks,
        "",
        "Networks whose hits are scanners, added to the shipped ranges of mail security gateways "
        "(gateway/edge/networks.py).",
        "comma-separated CIDRs",
    ),
    SettingSpec(
        "outbox_max_events",
        p.int_range(1000, 10**9),
        "1000000",
        "Most events the local outbox holds while "
        "the warehouse is behind or down; past it new hits are answered but not recorded (and counted).",
        "a whole number, 1000 or more",
    ),
    SettingSpec(
        "outbox_sync",
        p.sync_mode,
        "full",
        "SQLite synchronous mode of the outbox: full survives power loss, normal only a process crash.",
        "full or normal",
    ),
    SettingSpec(
        "pipeline_batch_rows",
        p.int_range(1, 100000),
        "5000",
        "A batch goes to the warehouse once this many events wait (or the oldest has waited "
        "GA4GW_PIPELINE_MAX_DELAY). Fewer, larger inserts mean fewer parts for ClickHouse to merge.",
        "1 to 100000",
    ),
    SettingSpec(
        "pipeline_max_delay",
        p.float_positive,
        "1.0",
        "Longest wait, in seconds, before a partial batch is written to the warehouse.",
        "a positive number of seconds",
    ),
    SettingSpec(
        "stall_seconds",
        p.float_positive,
        "60",
        "/readyz answers 503 when the outbox writer, the pipeline or the GA4 relay has not finished a round "
        "for this many seconds while work waits for it (or its thread has stopped).",
        "a positive number of seconds",
    ),
    SettingSpec(
        "ga4_measurement_id",
        p.measurement_id,
        "",
        "GA4 measurement id. Empty (or no secret) runs the GA4 relay dry: payloads are validated and kept, not sent.",
        "G-XXXXXXXXXX",
    ),
    SettingSpec(
        "ga4_api_secret",
        p.text,
        "",
        "Measurement Protocol API secret of the GA4 data stream.",
        "the secret from GA4's admin",
        secret=True,
    ),
    SettingSpec(
        "ga4_origin",
        p.http_url,
        "https://www.google-analytics.com",
        "Measurement Protocol origin; https://region1.google-analytics.com for EU collection.",
        "an http(s) URL",
    ),
    SettingSpec(
        "ga4_concurrency",
        p.int_range(1, 256),
        "16",
        "Most Measurement Protocol requests the relay has in flight at once.",
        "1 to 256",
    ),
    SettingSpec(
        "ga4_timeout",
        p.float_positive,
        "10",
        "Seconds to wait for GA4's answer; no answer in time is retried (and counted as possibly delivered).",
        "a positive number of seconds",
    ),
    SettingSpec(
        "ga4_max_backoff",
        p.float_positive,
        "300",
        "Longest wait, in seconds, between two tries of a request GA4 did not take (backoff doubles from 1 s).",
        "a positive number of seconds",
    ),
    SettingSpec(
        "ga4_expired",
        p.choice("dead", "clamp"),
        "dead",
        "What to do with an event that would be older than 72 hours when sent: dead (a dead letter with reason "
        "expired) or clamp (send it dated 72 hours ago, as GA4's RELAXED mode would).",
        "dead or clamp",
    ),
    SettingSpec(
        "ga4_batch_delay",
        p.float_positive,
        "0.5",
        "Seconds the relay gathers events before packing them into requests.",
        "a positive number of seconds",
    ),
    SettingSpec(
        "ga4_settle_seconds",
        p.seconds_upto(300),
        "5",
        "Seconds an email open or click waits before the relay takes it, so that a verdict revised by a "
        "scanner burst found just after it still counts (a revised machine hit is not sent); 0 sends at once.",
        "0 to 300 seconds",
    ),
    SettingSpec(
        "ga4_relay_verdicts",
        p.words,
        "human,image_proxy",
        "Verdicts of opens and clicks that are relayed to GA4; machine hits stay in the warehouse only.",
        "comma-separated verdicts (human, image_proxy, apple_mpp, scanner, prefetch, unknown)",
    ),
    SettingSpec(
        "ga4_ledger_days",
        p.int_range(1, 365),
        "7",
        "Days the delivery ledger keeps finished requests, dead letters and purchase transaction ids.",
        "1 to 365",
    ),
    SettingSpec(
        "events_max_per_request",
        p.int_range(1, 10000),
        "500",
        "Most events one POST /v1/events request may carry.",
        "1 to 10000",
    ),
    SettingSpec(
        "sql_max_seconds",
        p.float_positive,
        "60",
        "Longest run of one query on the analyst SQL interface.",
        "a positive number of seconds",
    ),
    SettingSpec(
        "sql_max_result_rows",
        p.int_range(0, 10**12),
        "10000000",
        "Most rows one analyst query may return through the gateway (0 = no limit).",
        "a whole number",
    ),
    SettingSpec(
        "sql_max_result_bytes",
        p.int_range(0, 10**13),
        "1000000000",
        "Most bytes (uncompressed, as the engine counts them) one analyst query may return (0 = no limit).",
        "a whole number of bytes",
    ),
    SettingSpec(
        "sql_max_memory",
        p.int_range(0, 10**13),
        "2000000000",
        "Most memory one analyst query may use in the engine, in bytes (0 = no limit).",
        "a whole number of bytes",
    ),
    SettingSpec(
        "sql_concurrency",
        p.int_range(1, 64),
        "2",
        "Analyst queries that run at once, on threads of their own (the gateway's other work never waits for them).",
        "1 to 64",
    ),
    SettingSpec(
        "sql_queue",
        p.int_range(0, 1000),
        "8",
        "Analyst queries that may wait for a free slot; beyond that the gateway answers 503.",
        "0 to 1000",
    ),
    SettingSpec(
        "sql_warehouse_dsn",
        p.dsn,
        "",
        "Warehouse connection for analyst queries, e.g. a read-only ClickHouse user (see README). "
        "Empty means the warehouse DSN; an embedded engine must be the same path.",
        "empty, or chdb://PATH or http(s)://user:password@host:port/database",
        secret=True,
    ),
    *ATTRIBUTION_SPECS,
    SettingSpec(
        "identity_max_persons",
        p.int_range(1, 1000),
        "3",
        "An identifier seen with more distinct identifiers of one person kind (recipients, emails, CRM ids or "
        "user ids) than this is shared (a shared or bot device) and joins nobody.",
        "a whole number, 1 to 1000",
    ),
    SettingSpec(
        "identity_edge_window_days",
        p.int_range(0, 3650),
        "395",
        "Identity edges older than this many days stop joining identifiers (0: they never expire).",
        "0 to 3650 days",
    ),
    *CONSENT_SPECS,
    *ACCESS_SPECS,
    SettingSpec(
        "log_level", p.log_level, "info", "Log level: debug, info, warning or error.", "debug, info, warning or error"
    ),
    SettingSpec(
        "log_format",
        p.choice("text", "json"),
        "text",
        "Log lines as text, or json: one object per line (time, level, logger, message, request_id), redacted.",
        "text or json",
    ),
    SettingSpec(
        "access_log_edge",
        p.boolean,
        "false",
        "Also write an access line for each open and click (/o/, /c/); off by default: the edge's hot path logs "
        "nothing. API routes always get one.",
        "true or false",
    ),
)
