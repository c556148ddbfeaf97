"""What an analyst query may do, decided on ClickHouse's syntax tree of it (``sql_ast``).

Allowed: SELECT and WITH, a safe part of SHOW (tables, databases, columns, create table/view),
DESCRIBE of a table or a subquery, EXPLAIN of an allowed query, EXISTS, over the gateway's own
database and a short list of system tables clients need (``SYSTEM_TABLES``). Everything else is
refused, so an unknown node kind is refused too: the tree's kinds are an allow-list.

Refused in particular: every table function (``file``, ``url``, ``s3``, ``remote``, ``sqlite``...,
anything that is a function in a table's place, in subqueries, JOINs, IN and DESCRIBE too);
``INTO OUTFILE``; ``SETTINGS`` in the SQL (the tree does not name them; settings go as URL
parameters, where an allow-list applies); dictionaries; functions that reveal the host or read
files; other databases; the path columns of ``system.tables`` and ``system.databases``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import QueryRefused
from .sql_ast import AstNode

__all__ = ["READ_STATEMENTS", "SYSTEM_TABLES", "CheckedQuery", "check_query", "refuse_statement"]

# What a formatted query may start with; anything else is a write or an administrative statement.
READ_STATEMENTS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS", "(")

# What clients read on connecting and browsing: clickhouse-connect reads version(), timezone() and
# system.settings; tools list tables, columns, functions and types. None of these shows the host.
SYSTEM_TABLES = frozenset(
    {
        "one", "numbers", "numbers_mt", "zeros", "zeros_mt", "settings", "functions", "data_type_families",
        "formats", "table_engines", "time_zones", "columns", "tables", "databases",
    }
)  # fmt: skip
_INFORMATION_SCHEMA = frozenset({"tables", "columns", "schemata", "views"})
# system.tables and system.databases name directories on the host in these columns.
_PATH_COLUMNS = frozenset({"data_paths", "metadata_path", "data_path"})
_PATH_TABLES = frozenset({"tables", "databases"})

_EXPRESSION_KINDS = frozenset(
    {
        "SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery", "ExpressionList", "Asterisk",
        "QualifiedAsterisk", "ColumnsRegexpMatcher", "ColumnsListMatcher", "QualifiedColumnsRegexpMatcher",
        "QualifiedColumnsListMatcher", "ColumnsTransformerList", "ColumnsApplyTransformer",
        "ColumnsExceptTransformer", "ColumnsReplaceTransformer", "ColumnsReplaceTransformer::Replacement", "Literal",
        "Identifier", "Function", "TablesInSelectQuery", "TablesInSelectQueryElement", "TableExpression",
        "TableIdentifier", "TableJoin", "ArrayJoin", "Subquery", "WithElement", "OrderByElement", "SampleRatio",
        "WindowDefinition", "WindowListElement", "InterpolateElement",
    }
)  # fmt: skip
_ALL_PATHS = frozenset({"Asterisk", "QualifiedAsterisk", "ColumnsRegexpMatcher", "QualifiedColumnsRegexpMatcher"})

# Functions that show the host, read files or other tables, or reach configured models.
_DENIED_FUNCTIONS = frozenset(
    {
        "hostname", "fqdn", "fullhostname", "getmacro", "getserversetting", "getmergetreesetting", "getserverport",
        "uptime", "file", "catboostevaluate", "modelevaluate", "naivebayesclassifier", "joinget", "joingetornull",
        "filesystemavailable", "filesystemcapacity", "filesystemfree", "filesystemunreserved", "serveruuid", "buildid",
        "displayname", "getoskernelversion", "tcpport", "addresstoline", "addresstolinewithinlines",
        "addresstosymbol", "demangle", "trap", "logtrace", "zookeepersessionuptime", "hascolumnintable",
        "showcertificate", "url", "s3", "remote", "input", "executable",
    }
)  # fmt: skip
# chDB 26.9's system.table_functions (less format and values, which are also ordinary functions): refused on
# the right of IN too, where a table can be named.
_TABLE_FUNCTIONS = frozenset(
    {
        "arrowstream", "azureBlobStorage", "azureBlobStorageCluster", "bigquery", "cluster", "clusterAllReplicas",
        "cosn", "deltaLake", "deltaLakeAzure", "deltaLakeAzureCluster", "deltaLakeCluster", "deltaLakeLocal",
        "deltaLakeS3", "deltaLakeS3Cluster", "dictionary", "eval", "executable", "file", "fileCluster", "filesystem",
        "fuzzJSON", "fuzzQuery", "gcs", "generateRandom", "generateSeries", "generate_series", "hdfs", "hdfsCluster",
        "hudi", "hudiCluster", "iceberg", "icebergAzure", "icebergAzureCluster", "icebergCluster", "icebergHDFS",
        "icebergHDFSCluster", "icebergLocal", "icebergLocalCluster", "icebergS3", "icebergS3Cluster", "input", "jdbc",
        "loop", "merge", "mergeTreeAnalyzeIndexes", "mergeTreeAnalyzeIndexesUUID", "mergeTreeCodecBlockCounts",
        "mergeTreeIndex", "mergeTreeProjection", "mergeTreeTextIndex", "mongodb", "mysql", "null", "numbers",
        "numbers_mt", "odbc", "oss", "paimon", "paimonAzure", "paimonAzureCluster", "paimonCluster", "paimonHDFS",
        "paimonHDFSCluster", "paimonLocal", "paimonS3", "paimonS3Cluster", "postgresql", "primes", "prometheusQuery",
        "prometheusQueryRange", "python", "redis", "remote", "remoteSecure", "s3", "s3Cluster", "sqlite",
        "timeSeriesData", "timeSeriesMetricFamilies", "timeSeriesMetrics", "timeSeriesSamples", "timeSeriesSelector",
        "timeSeriesTags", "url", "urlCluster", "view", "viewExplain", "viewIfPermitted", "ytsaurus", "zeros", "zeros_mt"
    }
)  # fmt: skip
_IN_FUNCTIONS = frozenset({"in", "notIn", "globalIn", "globalNotIn", "nullIn", "notNullIn", "globalNullIn"})
_SHOW_ALLOWED = re.compile(
    r"^SHOW (?:FULL )?(?:TEMPORARY )?TABLES(?: (?:FROM|IN) (\S+))?(?:\s|$)|^SHOW DATABASES(?:\s|$)"
)
_FORMAT_LINE = re.compile(r"\nFORMAT `?(\w+)`?\n?$")
# Their argument is "database table" (an empty database: the current one).
_NAMED_STATEMENTS = frozenset(
    {"ShowCreateTableQuery", "ShowCreateViewQuery", "ExistsTableQuery", "ExistsViewQuery", "ExistsDatabaseQuery"}
)
_SHOW_COLUMNS = re.compile(r"^SHOW (?:EXTENDED )?(?:FULL )?COLUMNS (?:FROM|IN) (\S+)(?: (?:FROM|IN) (\S+))?")


@dataclass(frozen=True)
class CheckedQuery:
    """An allowed query: ``sql`` is the engine's formatting of it (what runs), ``fmt`` the FORMAT it names.

    ``select``: a SELECT (the engine streams only those; SHOW, DESCRIBE... come in one piece).
    """

    sql: str
    fmt: str | None
    select: bool = False


def _access(what: str, hint: str = "") -> QueryRefused:
    hint = f" ({hint})" if hint else ""
    return QueryRefused(f"gateway: {what} is not allowed on the analyst interface{hint}", 497, "ACCESS_DENIED")


def refuse_statement(formatted: str) -> None:
    """Refuse what is not a read before its tree is asked for (INSERT ... VALUES has none).

    The query parsed (a typo fails earlier, as ClickHouse's syntax error), so this names what it is.
    """
    head = formatted.lstrip()
    if head.upper().startswith(READ_STATEMENTS):
        return
    words = " ".join(head.split()[:3]).upper()
    if words.startswith("CREATE TEMPORARY"):
        why = (
            "temporary tables are not available: each query runs read-only on a connection of its own, so a "
            "table would not outlive its query; use a subquery or WITH instead"
        )
    else:
        why = f"{head.split()[0].upper() if head else 'it'} is not a read"
    raise QueryRefused(f"gateway: Cannot execute query in readonly mode: {why}", 164, "READONLY")


class _Checker:
    def __init__(self, database: str) -> None:
        self.database = database
        self.path_tables = False
        self.names: set[str] = set()
        self.all_columns = False

    def table(self, name: str) -> None:
        """A table read by name: this database's, or an allowed system table."""
        db, dot, table = name.partition(".")
        if not dot or db == self.database:
            if "." in table:
                raise _access(f"the table name {name!r}")
            return
        if "." in table:
            raise _access(f"the table name {name!r}")
        if db == "system" and table in SYSTEM_TABLES:
            self.path_tables |= table in _PATH_TABLES
            return
        if db.lower() == "information_schema" and table.lower() in _INFORMATION_SCHEMA:
            return
        if db == "system":
            raise _access(f"system.{table}", f"allowed: {', '.join(sorted(SYSTEM_TABLES))}")
        raise _access(f"the database {db!r}", f"only {self.database!r} is this gateway's")

    def expression(self, root: AstNode) -> None:
        """Check a SELECT tree (or a part of one)."""
        for node, parent in root.walk():
            if node.kind not in _EXPRESSION_KINDS:
                if node.kind == "Set":
                    raise _access(
                        "SETTINGS in the SQL",
                        "its syntax tree does not name the settings, so they cannot be checked; give them as URL "
                        "parameters or with ga4gw sql --setting NAME=VALUE, where the allow-list applies",
                    )
                raise _access(f"{node.kind} in a query", "the gateway allows plain SELECT syntax")
            if node.kind == "TableIdentifier":
                self.table(node.name)
            elif node.kind == "Function":
                self.function(node, parent)
            elif node.kind == "Identifier":
                self.names.add(node.name.rpartition(".")[2])
            elif node.kind in _ALL_PATHS:
                self.all_columns = True
            elif node.kind == "SelectWithUnionQuery":
                for extra in node.children[1:]:
                    raise _access("INTO OUTFILE" if extra.kind == "Literal" else f"{extra.kind} after a query")

    def function(self, node: AstNode, parent: AstNode | None) -> None:
        name = node.name
        if parent is not None and parent.kind == "TableExpression":
            raise _access(f"the table function {name}()")
        lowered = name.lower()
        if lowered in _DENIED_FUNCTIONS or lowered.startswith(("dict", "__")):
            raise _access(f"the function {name}()")
        if name in _IN_FUNCTIONS and node.children and len(node.children[0].children) == 2:
            right = node.children[0].children[1]
            if right.kind == "Identifier":
                self.table(right.name)
            elif right.kind == "Function" and right.name in _TABLE_FUNCTIONS:
                raise _access(f"the table function {right.name}() on the right of IN")

    def finish(self) -> None:
        if self.path_tables and (self.all_columns or self.names & _PATH_COLUMNS):
            raise _access(
                "reading path columns or * from system.tables or system.databases",
                "name the columns you need, without data_paths, metadata_path and data_path",
            )


def check_query(root: AstNode, formatted: str, database: str) -> CheckedQuery:
    """Check a query's tree (``formatted`` is the engine's formatting of the same query); raise ``QueryRefused``.

    The engine prints ``FORMAT x`` on the last line of a formatted query and as the root's last child in
    its tree; both must agree, and the format is then taken off the root before its kind is checked.
    """
    named = _FORMAT_LINE.search(formatted)
    fmt = named.group(1) if named else None
    if fmt is not None:
        last = root.children[-1] if root.children else None
        if last is None or last.kind != "Identifier" or last.name != fmt:
            raise _access("a FORMAT clause the syntax tree does not show")
        root = AstNode(root.kind, root.arg, root.children[:-1])
    checker = _Checker(database)
    kind = root.kind
    if kind == "SelectWithUnionQuery":
        checker.expression(root)
    elif kind == "Explain":
        for child in root.children:
            if child.kind == "SelectWithUnionQuery":
                checker.expression(child)
            elif child.kind != "Set":  # EXPLAIN's own options (header=1, json=1...)
                raise _access(f"EXPLAIN of {child.kind}")
    elif kind == "DescribeQuery":
        if [child.kind for child in root.children] != ["TableExpression"] or len(root.children[0].children) != 1:
            raise _access("this form of DESCRIBE")
        checker.expression(root.children[0])
    elif kind == "ShowTables":
        shown = _SHOW_ALLOWED.match(formatted)
        if shown is None:
            raise _access(formatted.splitlines()[0].split(" LIKE ")[0], "SHOW TABLES and SHOW DATABASES are")
        if (shown.group(1) and shown.group(1).replace("`", "") != database) or len(root.children) > 1:
            raise _access(f"the database {shown.group(1)!r}", f"only {database!r} is this gateway's")
    elif kind == "ShowColumns":
        match = _SHOW_COLUMNS.match(formatted)
        if match is None or root.children:
            raise _access("this form of SHOW COLUMNS")
        table, db = (match.group(i).replace("`", "") if match.group(i) else "" for i in (1, 2))
        checker.table(f"{db}.{table}" if db else table)
    elif kind in _NAMED_STATEMENTS:
        db = root.arg.lstrip(" ").split(" ")[0] if kind == "ExistsDatabaseQuery" else root.arg.split(" ")[0]
        if db and db != database:
            raise _access(f"the database {db!r}", f"only {database!r} is this gateway's")
    else:
        raise _access(f"the statement {kind}")
    checker.finish()
    return CheckedQuery(formatted, fmt, kind == "SelectWithUnionQuery")
