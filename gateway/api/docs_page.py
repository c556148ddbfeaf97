"""The OpenAPI document as one plain HTML page (``GET /docs``), rendered on the server.

No script and nothing from another origin: the page works under ``Content-Security-Policy: default-src 'self'``
(its only other resource is ``/docs.css``, served by the gateway), and in a browser that runs no JavaScript.
Every text from the document is escaped. Schemas are drawn as nested lists of their fields; a reference links to
the schema's own section at the end.
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

__all__ = ["STYLE", "render"]

STYLE = """body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 2rem;color:#1b1b1b}
h2{border-bottom:1px solid #ccc;margin-top:2.5rem}h3{margin-bottom:.2rem}code,pre{font:13px ui-monospace,monospace}
pre{background:#f5f5f5;padding:.6rem;overflow:auto}.method{display:inline-block;min-width:3.5rem;font-weight:700}
.get{color:#0a6}.post{color:#c60}.scope{background:#eef;padding:0 .3rem;border-radius:3px}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
ul.schema{margin:.2rem 0;padding-left:1.2rem}nav li{list-style:none}
"""
_REF = "#/components/schemas/"


def _code(text: str) -> str:
    """Escaped text with its `backticked` parts set as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _type(schema: dict[str, Any]) -> str:
    """A schema's one-line summary: its type, enum, pattern and bounds."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(_REF)
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    for key in ("oneOf", "anyOf", "allOf"):
        if key in schema and "properties" not in schema:
            word = {"oneOf": " or ", "anyOf": " or ", "allOf": " and "}[key]
            return word.join(_type(s) for s in schema[key])
    kind = schema.get("type", "constant" if "const" in schema else "any")
    text = escape(" or ".join(kind) if isinstance(kind, list) else str(kind))
    if kind == "array" and "items" in schema:
        text = f"array of {_type(schema['items'])}"
    notes = []
    if "enum" in schema:
        notes.append("one of " + ", ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"]))
    if "const" in schema:
        notes.append(f"<code>{escape(json.dumps(schema['const']))}</code>")
    for key in ("pattern", "format", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems"):
        if key in schema:
            notes.append(f"{key} <code>{escape(str(schema[key]))}</code>")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _schema(schema: dict[str, Any]) -> str:
    """A schema as a nested list of its fields (required ones in bold)."""
    out = [_type(schema)]
    if schema.get("description"):
        out.append(f" — {escape(schema['description'])}")
    props: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    if props or isinstance(extra, dict):
        required = set(schema.get("required", ()))
        items = []
        for name, sub in props.items():
            label = f"<b>{escape(name)}</b>" if name in required else escape(name)
            items.append(f"<li><code>{label}</code>: {_schema(sub)}</li>")
        if isinstance(extra, dict):
            items.append(f"<li><i>any name</i>: {_schema(extra)}</li>")
        out.append(f'<ul class="schema">{"".join(items)}</ul>')
    for key, word in (("anyOf", "at least one of"), ("oneOf", "exactly one of")):
        if props and key in schema and all("required" in s for s in schema[key]):
            names = ", ".join(f"<code>{escape(n)}</code>" for s in schema[key] for n in s["required"])
            out.append(f"<p>Give {word} {names}.</p>")
    return "".join(out)


def _responses(responses: dict[str, Any], shared: dict[str, Any]) -> str:
    rows = []
    for status, answer in responses.items():
        answer = shared[answer["$ref"].rsplit("/", 1)[1]] if "$ref" in answer else answer
        content = answer.get("content", {})
        body = "".join(f"<code>{escape(m)}</code>: {_type(c['schema'])}<br>" for m, c in content.items())
        headers = "".join(f"header <code>{escape(h)}</code><br>" for h in answer.get("headers", {}))
        rows.append(
            f"<tr><td>{escape(status)}</td><td>{escape(answer['description'])}</td><td>{body}{headers}</td></tr>"
        )
    return f"<table><tr><th>Status</th><th>When</th><th>Body</th></tr>{''.join(rows)}</table>"


def _operation(path: str, method: str, op: dict[str, Any], shared: dict[str, Any]) -> str:
    anchor = escape(op["operationId"])
    description = op["description"].split("\n\nScope: ")[0]  # the scope has a line of its own below
    parts = [
        f'<h3 id="{anchor}"><span class="method {method}">{method.upper()}</span> <code>{escape(path)}</code>'
        f"</h3><p>{escape(op['summary'])}</p>"
    ]
    if description != op["summary"]:
        parts.append(f"<p>{_code(escape(description))}</p>")
    for requirement in op.get("security", []):
        for scope in requirement.get("bearer", []):
            parts.append(f'<p>Bearer token with scope <span class="scope">{escape(scope)}</span> (or admin).</p>')
    if op.get("parameters"):
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code> ({escape(p['in'])}{', required' * p['required']})"
            f"</td><td>{_type(p['schema'])}</td><td>{escape(p.get('description', ''))}</td></tr>"
            for p in op["parameters"]
        )
        parts.append(f"<table><tr><th>Parameter</th><th>Type</th><th>What</th></tr>{rows}</table>")
    for media, content in op.get("requestBody", {}).get("content", {}).items():
        parts.append(f"<p>Request body (<code>{escape(media)}</code>): {_schema(content['schema'])}</p>")
        if "example" in content:
            example = content["example"]
            text = example if isinstance(example, str) else json.dumps(example, indent=2, ensure_ascii=False)
            parts.append(f"<pre>{escape(text)}</pre>")
    parts.append(_responses(op["responses"], shared))
    return "".join(parts)


def render(document: dict[str, Any]) -> str:
    """The whole page for ``document`` (an OpenAPI 3.1 document as ``gateway.api.openapi`` builds it)."""
    components = document["components"]
    shared = components["responses"]
    index, body = [], []
    for tag in (t["name"] for t in document["tags"]):
        body.append(f"<h2>{escape(tag)}</h2>")
        for path, methods in document["paths"].items():
            for method, op in methods.items():
                if tag in op["tags"]:
                    index.append(f'<li><a href="#{escape(op["operationId"])}">{method.upper()} {escape(path)}</a></li>')
                    body.append(_operation(path, method, op, shared))
    body.append("<h2>Schemas</h2>")
    for name, schema in components["schemas"].items():
        body.append(f'<h3 id="schema-{escape(name)}">{escape(name)}</h3><p>{_schema(schema)}</p>')
    info = document["info"]
    security = components["securitySchemes"]["bearer"]["description"]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{escape(info["title"])}</title><link rel="stylesheet" href="/docs.css"></head><body>'
        f"<h1>{escape(info['title'])}</h1><p>{_code(escape(info['description']))}</p><p>{_code(escape(security))}</p>"
        '<p>The same as data: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>'
        f"<nav><ul>{''.join(index)}</ul></nav>{''.join(body)}</body></html>"
    )
