"""ClickHouse's own reading of a query, as a tree: the text of ``EXPLAIN AST`` parsed back.

The analyst interface decides what a query may do from the syntax tree ClickHouse's parser
built, not from the SQL text (comments, quoting and settings make text checks easy to fool).
``EXPLAIN AST`` prints one node a line, indented by one space per level::

    SelectWithUnionQuery (children 1)
     ExpressionList (children 1)
      SelectQuery (children 2)
       ...
          Function file (children 1)

A node's line is its kind, then an argument (a name, a literal, ``(alias x)``), then
``(children N)`` when it has any. Names inside quotes are printed raw, so a name holding a
newline could forge lines; ``plain_quoted_names`` refuses such names in the engine's own
formatting of the query (where they appear escaped) before the tree is read, and the parser
checks every declared child count, so a text that does not describe one consistent tree is
refused rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["AstNode", "AstSyntaxError", "parse_ast", "plain_quoted_names", "render_ast"]

_LINE = re.compile(r"^( *)([A-Za-z][A-Za-z0-9_:]*)(?: (.*?))??(?: \(children (\d+)\))?$")


class AstSyntaxError(ValueError):
    """The text is not a well-formed ``EXPLAIN AST`` tree (or a quoted name is not plain)."""


@dataclass(frozen=True)
class AstNode:
    """One node: ``kind`` (``Function``, ``TableIdentifier``...), ``arg`` (the rest of its line) and children."""

    kind: str
    arg: str = ""
    children: tuple[AstNode, ...] = ()

    @property
    def name(self) -> str:
        """The argument without a trailing ``(alias ...)``: a function's, table's or identifier's name."""
        head, sep, _ = self.arg.partition(" (alias ")
        return head if sep else self.arg

    def walk(self) -> Iterator[tuple[AstNode, AstNode | None]]:
        """Every node of the tree with its parent (None for the root), depth first."""
        stack: list[tuple[AstNode, AstNode | None]] = [(self, None)]
        while stack:
            node, parent = stack.pop()
            yield node, parent
            stack.extend((child, node) for child in reversed(node.children))


@dataclass
class _Open:
    kind: str
    arg: str
    declared: int
    children: list[AstNode]


def parse_ast(text: str) -> AstNode:
    """Parse ``EXPLAIN AST`` output into its single root node; raise ``AstSyntaxError`` on anything else."""
    lines = [line for line in text.split("\n") if line != ""]
    if not lines:
        raise AstSyntaxError("empty syntax tree")
    stack: list[_Open] = []
    root: AstNode | None = None

    def close() -> None:
        nonlocal root
        done = stack.pop()
        if len(done.children) != done.declared:
            raise AstSyntaxError(f"{done.kind} declares {done.declared} children and has {len(done.children)}")
        node = AstNode(done.kind, done.arg, tuple(done.children))
        if stack:
            stack[-1].children.append(node)
        else:
            root = node

    for number, line in enumerate(lines, 1):
        match = _LINE.match(line)
        if match is None:
            raise AstSyntaxError(f"line {number} is not a node: {line[:80]!r}")
        depth = len(match.group(1))
        if root is not None or (depth == 0) != (number == 1):
            raise AstSyntaxError(f"line {number}: more than one root")
        if depth > len(stack):
            raise AstSyntaxError(f"line {number} is indented past its parent")
        while len(stack) > depth:
            close()
        stack.append(_Open(match.group(2), match.group(3) or "", int(match.group(4) or 0), []))
    while stack:
        close()
    assert root is not None
    return root


def render_ast(node: AstNode, depth: int = 0) -> str:
    """The ``EXPLAIN AST`` text of a tree (the inverse of ``parse_ast``; used by the tests)."""
    head = " " * depth + node.kind + (f" {node.arg}" if node.arg else "")
    if node.children:
        head += f" (children {len(node.children)})"
    return "\n".join([head, *(render_ast(child, depth + 1) for child in node.children)]) + ("\n" if depth == 0 else "")


def plain_quoted_names(formatted: str) -> None:
    """Refuse quoted names holding escapes or control characters in the engine's formatting of a query.

    ``formatQuery`` prints a name with a newline as ``\\n`` inside back quotes; ``EXPLAIN AST`` would
    print the newline itself and so forge a line of the tree. String literals are skipped: the tree
    prints them escaped.
    """
    i, n = 0, len(formatted)
    while i < n:
        quote = formatted[i]
        if quote not in "'`\"":
            i += 1
            continue
        j = i + 1
        while j < n and formatted[j] != quote:
            if formatted[j] == "\\":
                if quote != "'":
                    raise AstSyntaxError("quoted names with backslash escapes are not allowed")
                j += 1
            elif quote != "'" and ord(formatted[j]) < 0x20:
                raise AstSyntaxError("quoted names with control characters are not allowed")
            j += 1
        i = j + 1
