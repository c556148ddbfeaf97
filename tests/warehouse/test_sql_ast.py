"""The reader of ``EXPLAIN AST`` text: real engine output, forged lines, and round trips of any tree."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.sql_ast import AstNode, AstSyntaxError, parse_ast, plain_quoted_names, render_ast

# chDB 26.9's EXPLAIN AST of SELECT * FROM file('/etc/passwd','LineAsString'), verbatim.
FILE_READ = """SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Function file (children 1)
       ExpressionList (children 2)
        Literal '/etc/passwd'
        Literal 'LineAsString'
"""


def test_engine_output_becomes_a_tree() -> None:
    root = parse_ast(FILE_READ)
    assert root.kind == "SelectWithUnionQuery"
    kinds = [(node.kind, node.name) for node, _ in root.walk()]
    assert ("Function", "file") in kinds
    function, parent = next((n, p) for n, p in root.walk() if n.kind == "Function")
    assert parent is not None
    assert parent.kind == "TableExpression"
    assert [child.arg for child in function.children[0].children] == ["'/etc/passwd'", "'LineAsString'"]


def test_aliases_and_odd_arguments() -> None:
    root = parse_ast("Subquery (alias s) (children 1)\n Identifier t.a (alias x)\n")
    assert root.arg == "(alias s)"
    assert root.children[0].name == "t.a"
    assert parse_ast("ShowCreateViewQuery  v (children 1)\n Identifier v\n").arg == " v"
    assert parse_ast("ColumnsReplaceTransformer::Replacement (children 1)\n Literal 1\n").kind.endswith("Replacement")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SelectQuery (children 2)\n ExpressionList\n",  # a declared child is missing
        "Identifier a\n Function file\n",  # a child under a node that declares none (a forged line)
        "Identifier a (children 1)\n  Function file\n",  # indented past its parent
        "SelectQuery\nSelectQuery\n",  # two roots: a second statement
        " SelectQuery\n",  # the root is indented
        "SelectQuery (children 1)\n )\n",  # a line that is not a node
    ],
)
def test_texts_that_are_not_one_consistent_tree_are_refused(text: str) -> None:
    with pytest.raises(AstSyntaxError):
        parse_ast(text)


@pytest.mark.parametrize(
    "formatted",
    ["SELECT `a\\n     Function file` FROM t", 'SELECT "x\\ty"', "SELECT `a\x01` FROM t", "SELECT `a\\`b`"],
)
def test_quoted_names_with_escapes_or_control_characters_are_refused(formatted: str) -> None:
    with pytest.raises(AstSyntaxError):
        plain_quoted_names(formatted)


def test_plain_names_and_any_string_literal_pass() -> None:
    plain_quoted_names("SELECT `events`.`a b`, 'it\\'s\\n`odd`' AS \"x\" FROM `events`")


_KINDS = st.sampled_from(["SelectQuery", "ExpressionList", "Function", "Identifier", "Literal", "TableExpression"])
_ARGS = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12).map(str.strip)
_TREES = st.recursive(
    st.builds(AstNode, _KINDS, _ARGS),
    lambda children: st.builds(AstNode, _KINDS, _ARGS, st.lists(children, max_size=4).map(tuple)),
    max_leaves=30,
)


@given(_TREES)
def test_any_tree_survives_rendering_and_reading(tree: AstNode) -> None:
    if any("(children " in node.arg for node, _ in tree.walk()):
        return  # an argument that ends like a child count is what the engine never prints unescaped
    assert parse_ast(render_ast(tree)) == tree


@given(st.text(max_size=300))
def test_any_text_gives_a_tree_or_a_refusal(text: str) -> None:
    with contextlib.suppress(AstSyntaxError):
        parse_ast(text)
