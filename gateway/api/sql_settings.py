"""Which per-query settings an analyst may give, and the limits every analyst query runs under.

A setting is allowed when it can only make a query do less (a lower limit, a smaller block) or change
how a result is computed or printed without reaching anything new (``join_use_nulls``, output formats).
The four limits with a ceiling (``GA4GW_SQL_MAX_*``) are lowered to it, never raised: asking for more
runs with the ceiling. Settings that would read or write files (``output_format_schema``,
``format_schema``), change what a user may do (``readonly``, ``allow_*``), or name the query
(``log_comment``, which the gateway uses to kill it) are refused by name. The README's analysts section
lists ``ALLOWED_SETTINGS``; ``ga4gw sql --setting`` and the HTTP interface's URL parameters both go
through ``allowed_settings``, then ``clickhouse_http.Limits.apply`` lowers the limits to their ceilings.
"""

from __future__ import annotations

from warehouse import QueryRefused

__all__ = ["ALLOWED_SETTINGS", "TRANSPORT", "allowed_settings"]

# URL parameters that are protocol, not settings.
TRANSPORT = frozenset(
    {
        "query", "query_id", "database", "default_format", "user", "quota_key", "compress",
        "decompress", "session_id", "session_timeout", "session_check", "buffer_size", "wait_end_of_query",
        "client_protocol_version", "enable_http_compression", "http_zlib_compression_level", "role",
        "send_progress_in_http_headers", "http_headers_progress_interval_ms",
        "cancel_http_readonly_queries_on_client_close",
    }
)  # fmt: skip

# Limits: each can only tighten what the gateway allows (the ones with a ceiling are lowered to it below).
_LIMITS = frozenset(
    {
        "max_execution_time", "max_result_rows", "max_result_bytes", "max_memory_usage", "max_rows_to_read",
        "max_bytes_to_read", "max_rows_to_group_by", "max_rows_to_sort", "max_bytes_to_sort", "max_columns_to_read",
        "max_temporary_columns", "max_subquery_depth", "max_ast_depth", "max_ast_elements", "max_rows_in_join",
        "max_bytes_in_join", "max_rows_in_distinct", "max_bytes_in_distinct", "max_threads", "max_block_size",
        "result_overflow_mode", "read_overflow_mode", "group_by_overflow_mode", "sort_overflow_mode",
        "timeout_overflow_mode", "join_overflow_mode", "distinct_overflow_mode",
    }
)  # fmt: skip
# Semantics and output: how a result is computed or printed, nothing read or written elsewhere.
_SHAPING = frozenset(
    {
        "join_use_nulls", "extremes", "date_time_output_format", "date_time_input_format", "session_timezone",
        "use_client_time_zone", "cast_string_to_dynamic_use_inference", "output_format_json_quote_64bit_integers",
        "output_format_json_quote_decimals", "output_format_json_quote_64bit_floats",
        "output_format_decimal_trailing_zeros", "output_format_native_encode_types_in_binary_format",
        "output_format_tsv_crlf_end_of_line", "output_format_csv_crlf_end_of_line",
        "output_format_json_named_tuples_as_objects", "output_format_json_escape_forward_slashes",
        "output_format_json_array_of_rows", "output_format_pretty_max_rows",
        "output_format_pretty_max_column_pad_width", "output_format_pretty_color", "output_format_pretty_row_numbers",
        "output_format_write_statistics",
        "format_csv_delimiter", "format_tsv_null_representation", "format_csv_null_representation",
        "aggregate_functions_null_for_empty", "transform_null_in", "any_join_distinct_right_table_keys",
        "joined_subquery_requires_alias", "prefer_column_name_to_alias", "union_default_mode",
        "enable_positional_arguments", "group_by_use_nulls", "count_distinct_implementation",
    }
)  # fmt: skip
ALLOWED_SETTINGS = _LIMITS | _SHAPING
_NUMBER_NAMES = ("max_", "output_format_pretty_max_")


def allowed_settings(params: dict[str, str]) -> dict[str, str]:
    """The settings among a request's parameters (protocol ones and ``param_*`` skipped); refuses any other."""
    kept: dict[str, str] = {}
    for name, value in params.items():
        if name in TRANSPORT or name.startswith("param_"):
            continue
        if name not in ALLOWED_SETTINGS:
            raise QueryRefused(
                f"gateway: Cannot modify '{name}' setting in readonly mode: the analyst interface allows only "
                "settings that tighten limits or shape the output (README, 'Per-query settings')",
                164,
                "READONLY",
            )
        if name.startswith(_NUMBER_NAMES) and not _is_number(value):
            raise QueryRefused(
                f"gateway: the setting {name} must be a number", 27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED"
            )
        kept[name] = value
    return kept


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
