#!/usr/bin/env python3
"""Renders Sources/Server/Resources/api.html from Sources/Server/Resources/openapi.json: one self-contained page (inline CSS, no scripts,
nothing loaded from elsewhere), served by the server at /docs.

    python3 scripts/render-api-docs.py          # rewrites Sources/Server/Resources/api.html
    python3 scripts/render-api-docs.py --check  # exits 1 if Sources/Server/Resources/api.html is not current

The page lists the overview, security, each tag with its operations (method, path, summary,
description, parameters, request body schema and examples, responses with headers and examples),
the shared error answers and every schema. Collapsible parts use <details>, which needs no script.
Output is deterministic (no dates), so --check can compare it byte for byte.
"""

import argparse
import html
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "Sources" / "Server" / "Resources" / "openapi.json"
OUTPUT = ROOT / "Sources" / "Server" / "Resources" / "api.html"
METHODS = ["get", "post", "put", "patch", "delete", "head", "options", "trace"]

CSS = """
:root { --fg: #1d2430; --muted: #5a6577; --bg: #ffffff; --panel: #f5f7fa; --line: #dde2ea; --link: #1559b0;
  --code: #f0f2f6; --get: #1f7a3f; --post: #1559b0; --put: #8a5a00; --delete: #b3261e; --patch: #6b3fa0; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e3e7ee; --muted: #a3adbd; --bg: #14171c; --panel: #1c2027; --line: #2f3540; --link: #7fb2ff;
    --code: #232833; --get: #5cc98a; --post: #7fb2ff; --put: #e0b35a; --delete: #ff8a80; --patch: #c6a1ff; }
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; }
code { background: var(--code); padding: 1px 4px; border-radius: 3px; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow-x: auto;
  margin: 6px 0 12px; }
pre code { background: none; padding: 0; }
header.top { padding: 18px 28px; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top h1 { margin: 0 0 4px; font-size: 24px; }
header.top p { margin: 0; color: var(--muted); }
.layout { display: flex; align-items: flex-start; }
nav.toc { position: sticky; top: 0; width: 290px; flex: none; max-height: 100vh; overflow-y: auto; padding: 16px 14px 40px 20px;
  border-right: 1px solid var(--line); font-size: 13.5px; }
nav.toc ul { list-style: none; margin: 0; padding: 0; }
nav.toc li { margin: 2px 0; }
nav.toc ul ul { margin: 2px 0 8px 6px; }
nav.toc .group { font-weight: 600; margin-top: 10px; display: block; }
main { flex: 1; min-width: 0; padding: 8px 32px 80px; max-width: 1100px; }
h2 { font-size: 21px; margin: 34px 0 10px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 17px; margin: 0; }
h4 { font-size: 14.5px; margin: 16px 0 6px; }
h5 { font-size: 13.5px; margin: 12px 0 4px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
article.op { border: 1px solid var(--line); border-radius: 8px; margin: 18px 0; padding: 14px 18px; }
article.op > header { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: baseline; margin-bottom: 6px; }
article.op .path { font-size: 15px; font-weight: 600; background: none; padding: 0; }
.summary { color: var(--muted); }
.method { display: inline-block; min-width: 62px; text-align: center; color: #fff; font-weight: 700; font-size: 12px;
  border-radius: 4px; padding: 2px 6px; letter-spacing: .03em; }
.method.get { background: var(--get); } .method.post { background: var(--post); } .method.put { background: var(--put); }
.method.delete { background: var(--delete); } .method.patch { background: var(--patch); }
nav.toc .method { min-width: 48px; font-size: 10.5px; padding: 0 4px; margin-right: 4px; }
.badge { display: inline-block; font-size: 11.5px; border: 1px solid var(--line); border-radius: 10px; padding: 0 7px;
  color: var(--muted); white-space: nowrap; }
.badge.public { border-color: var(--get); color: var(--get); }
.badge.auth { border-color: var(--put); color: var(--put); }
.badge.req { border-color: var(--delete); color: var(--delete); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.name { white-space: nowrap; }
td p, li p { margin: 0 0 4px; }
.constraints { color: var(--muted); font-size: 13px; }
.status { font-weight: 700; }
.status.s2 { color: var(--get); } .status.s4 { color: var(--put); } .status.s5 { color: var(--delete); }
details { margin: 4px 0 8px; }
details > summary { cursor: pointer; color: var(--muted); font-size: 13.5px; }
.response { border-top: 1px dashed var(--line); padding-top: 4px; }
section.schema { border: 1px solid var(--line); border-radius: 8px; margin: 14px 0; padding: 12px 16px; }
.muted { color: var(--muted); }
@media (max-width: 900px) { .layout { display: block; } nav.toc { position: static; width: auto; max-height: none;
  border-right: none; border-bottom: 1px solid var(--line); } main { padding: 8px 16px 60px; } }
@media print { nav.toc { display: none; } details { display: block; } article.op { break-inside: avoid; } }
"""


def esc(value):
    return html.escape(str(value), quote=True)


def slug(value):
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


# ---------------------------------------------------------------------------------------------
# A small Markdown subset: paragraphs, "- " lists, pipe tables, `code`, **bold**, *emphasis*,
# [text](link) (only local links become anchors: the page loads and links nothing outside).

def pretty_json(value, indent=0, prefix=0, width=88):
    """Indented JSON that keeps small objects and arrays on one line, so examples stay short.
    `indent` is the nesting depth in spaces, `prefix` what precedes the value on its line."""
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (dict, list)) or not value or indent + prefix + len(flat) <= width:
        return flat
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        items = []
        for key, member in value.items():
            label = json.dumps(key, ensure_ascii=False) + ": "
            items.append(inner + label + pretty_json(member, indent + 2, len(label), width))
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + pretty_json(member, indent + 2, 0, width) for member in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def inline(text):
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(f"<code>{esc(part[1:-1])}</code>")
            continue
        part = esc(part)
        part = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", part)
        part = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", part)

        def link(match):
            label, target = match.group(1), html.unescape(match.group(2))
            if target.startswith(("#", "/")) and not target.startswith("//"):
                return f'<a href="{esc(target)}">{label}</a>'
            return f"{label} ({esc(target)})"

        part = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", link, part)
        out.append(part)
    return "".join(out)


def table_cells(line):
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [cell.strip() for cell in line.split("|")]


def markdown(text):
    if not text:
        return ""
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(lines[i])
                i += 1
            header = table_cells(rows[0])
            body = [table_cells(row) for row in rows[1:] if not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", row)]
            head_html = "".join(f"<th>{inline(c)}</th>" for c in header)
            body_html = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in body)
            blocks.append(f"<table><thead><tr>{head_html}</tr></thead><tbody>{body_html}</tbody></table>")
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].strip():
                if lines[i].startswith("- "):
                    items.append(lines[i][2:])
                elif items:
                    items[-1] += " " + lines[i].strip()
                i += 1
            blocks.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in items) + "</ul>")
            continue
        paragraph = []
        while i < len(lines) and lines[i].strip() and not lines[i].startswith("- ") and not lines[i].lstrip().startswith("|"):
            paragraph.append(lines[i].strip())
            i += 1
        blocks.append(f"<p>{inline(' '.join(paragraph))}</p>")
    return "\n".join(blocks)


# ---------------------------------------------------------------------------------------------

class Renderer:
    def __init__(self, spec):
        self.spec = spec
        self.components = spec.get("components", {})

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.target(node["$ref"])
        return node

    def target(self, reference):
        node = self.spec
        for part in reference[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    @staticmethod
    def ref_name(reference):
        return reference.rsplit("/", 1)[-1]

    # -- schemas ---------------------------------------------------------------------------------

    def type_html(self, schema):
        if not isinstance(schema, dict):
            return ""
        if "$ref" in schema:
            name = self.ref_name(schema["$ref"])
            return f'<a href="#schema-{esc(name)}"><code>{esc(name)}</code></a>'
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return " or ".join(self.type_html(s) for s in schema[key])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = " | ".join(kind)
        if kind == "array":
            return "array of " + self.type_html(schema.get("items", {}))
        if "const" in schema:
            return f"<code>{esc(json.dumps(schema['const'], ensure_ascii=False))}</code>"
        label = kind or "any"
        if schema.get("format"):
            label += f" ({schema['format']})"
        return esc(label)

    def constraints(self, schema):
        schema = schema if isinstance(schema, dict) else {}
        notes = []
        if "enum" in schema:
            notes.append("one of " + ", ".join(f"<code>{esc(v)}</code>" for v in schema["enum"]))
        if "pattern" in schema and "format" not in schema:
            notes.append(f"pattern <code>{esc(schema['pattern'])}</code>")
        for key, word in (("minLength", "at least {} characters"), ("maxLength", "at most {} characters"),
                          ("minimum", "≥ {}"), ("maximum", "≤ {}"), ("minItems", "at least {} items"),
                          ("maxItems", "at most {} items")):
            if key in schema and not (key == "minLength" and schema[key] == 1):
                notes.append(word.format(schema[key]))
        if schema.get("minLength") == 1:
            notes.append("not empty")
        if schema.get("uniqueItems"):
            notes.append("no duplicates")
        if "default" in schema:
            notes.append(f"default <code>{esc(json.dumps(schema['default']))}</code>")
        if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
            inner = self.constraints(schema["items"])
            if inner:
                notes.append("each: " + inner)
        return "; ".join(notes)

    def description_of(self, schema):
        if not isinstance(schema, dict):
            return ""
        if schema.get("description"):
            return schema["description"]
        if "$ref" in schema:
            return self.resolve(schema).get("description", "")
        return ""

    def fields_table(self, schema):
        schema = self.resolve(schema)
        properties = schema.get("properties")
        if not properties:
            return ""
        required = set(schema.get("required", []))
        rows = []
        for name, prop in properties.items():
            badges = []
            if name in required:
                badges.append('<span class="badge req">required</span>')
            if isinstance(prop, dict) and (prop.get("readOnly") or self.resolve(prop).get("readOnly")):
                badges.append('<span class="badge">read-only</span>')
            # A referenced schema shows its own constraints in the Schemas section.
            constraint = "" if "$ref" in prop else self.constraints(prop)
            description = markdown(self.description_of(prop))
            if constraint:
                description += f'<p class="constraints">{constraint}</p>'
            rows.append(f"<tr><td class=\"name\"><code>{esc(name)}</code> {' '.join(badges)}</td>"
                        f"<td>{self.type_html(prop)}</td><td>{description}</td></tr>")
        extra = ""
        if schema.get("additionalProperties") is False:
            extra = '<p class="muted">Other members are refused (400, <code>is not accepted here</code>).</p>'
        return ("<table><thead><tr><th>field</th><th>type</th><th>description</th></tr></thead><tbody>"
                + "".join(rows) + "</tbody></table>" + extra)

    def schema_block(self, schema):
        """A body's schema: a link to the named schema, then its fields."""
        parts = []
        if "$ref" in schema:
            parts.append(f"<p>Schema: {self.type_html(schema)}</p>")
        else:
            parts.append(f"<p>Schema: {self.type_html(schema)}</p>")
        table = self.fields_table(schema)
        if table:
            parts.append(table)
        return "\n".join(parts)

    # -- examples --------------------------------------------------------------------------------

    def examples_html(self, holder, open_first=True):
        items = []
        if "example" in holder:
            items.append(("Example", holder["example"]))
        for name, example in (holder.get("examples") or {}).items():
            example = self.resolve(example)
            if "value" in example:
                items.append((example.get("summary") or name, example["value"]))
        out = []
        for index, (summary, value) in enumerate(items):
            body = value if isinstance(value, str) else pretty_json(value)
            opened = " open" if open_first and index == 0 else ""
            out.append(f"<details{opened}><summary>Example: {esc(summary)}</summary>"
                       f"<pre><code>{esc(body)}</code></pre></details>")
        return "\n".join(out)

    # -- parameters, bodies, responses -----------------------------------------------------------

    def parameters_html(self, parameters):
        if not parameters:
            return ""
        rows = []
        for parameter in parameters:
            parameter = self.resolve(parameter)
            schema = parameter.get("schema", {})
            badges = '<span class="badge req">required</span>' if parameter.get("required") else ""
            description = markdown(parameter.get("description", ""))
            constraint = self.constraints(schema) or (self.constraints(self.resolve(schema)) if "$ref" in schema else "")
            if constraint:
                description += f'<p class="constraints">{constraint}</p>'
            if "example" in parameter:
                description += f'<p class="constraints">example <code>{esc(parameter["example"])}</code></p>'
            rows.append(f"<tr><td class=\"name\"><code>{esc(parameter['name'])}</code> {badges}</td>"
                        f"<td>{esc(parameter['in'])}</td><td>{self.type_html(schema)}</td><td>{description}</td></tr>")
        return ("<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>"
                "</thead><tbody>" + "".join(rows) + "</tbody></table>")

    def request_html(self, body):
        if not body:
            return ""
        body = self.resolve(body)
        required = ' <span class="badge req">required</span>' if body.get("required") else ""
        out = [f"<h4>Request body{required}</h4>"]
        if body.get("description"):
            out.append(markdown(body["description"]))
        for media, content in body.get("content", {}).items():
            out.append(f"<p>Content type <code>{esc(media)}</code></p>")
            if "schema" in content:
                out.append(self.schema_block(content["schema"]))
            out.append(self.examples_html(content))
        return "\n".join(out)

    def headers_html(self, headers):
        if not headers:
            return ""
        rows = []
        for name, header in headers.items():
            header = self.resolve(header)
            description = markdown(header.get("description", ""))
            if "example" in header:
                description += f'<p class="constraints">example <code>{esc(header["example"])}</code></p>'
            rows.append(f"<tr><td class=\"name\"><code>{esc(name)}</code></td>"
                        f"<td>{self.type_html(header.get('schema', {}))}</td><td>{description}</td></tr>")
        return ("<table><thead><tr><th>header</th><th>type</th><th>description</th></tr></thead><tbody>"
                + "".join(rows) + "</tbody></table>")

    def response_html(self, status, response):
        css = f"s{status[0]}"
        if "$ref" in response:
            name = self.ref_name(response["$ref"])
            target = self.resolve(response)
            codes = self.error_codes(target)
            return (f'<div class="response"><h4><span class="status {css}">{esc(status)}</span> '
                    f'<a href="#response-{esc(name)}">{esc(name)}</a>'
                    f'{" — " + codes if codes else ""}</h4>{markdown(target.get("description", ""))}</div>')
        out = [f'<div class="response"><h4><span class="status {css}">{esc(status)}</span></h4>',
               markdown(response.get("description", ""))]
        if response.get("headers"):
            out.append("<h5>Headers</h5>" + self.headers_html(response["headers"]))
        for media, content in response.get("content", {}).items():
            schema = content.get("schema", {})
            out.append(f"<p>Content type <code>{esc(media)}</code>; schema {self.type_html(schema)}</p>")
            out.append(self.examples_html(content, open_first=status.startswith("2")))
        out.append("</div>")
        return "\n".join(out)

    def error_codes(self, response):
        codes = []
        for content in response.get("content", {}).values():
            for example in (content.get("examples") or {}).values():
                value = self.resolve(example).get("value")
                if isinstance(value, dict) and isinstance(value.get("error"), dict):
                    code = value["error"].get("code")
                    if code and code not in codes:
                        codes.append(code)
        return ", ".join(f"<code>{esc(c)}</code>" for c in codes)

    def operation_html(self, path, method, operation, path_parameters):
        operation_id = operation.get("operationId", f"{method}-{path}")
        public = operation.get("security") == []
        security = ('<span class="badge public">public: no token</span>' if public
                    else '<span class="badge auth">bearer token</span>')
        out = [f'<article class="op" id="op-{esc(operation_id)}"><header>'
               f'<span class="method {esc(method)}">{method.upper()}</span> <code class="path">{esc(path)}</code> '
               f'<span class="summary">{esc(operation.get("summary", ""))}</span> {security} '
               f'<span class="badge">{esc(operation_id)}</span></header>',
               markdown(operation.get("description", ""))]
        out.append(self.parameters_html(path_parameters + operation.get("parameters", [])))
        out.append(self.request_html(operation.get("requestBody")))
        out.append("<h4>Responses</h4>")
        for status, response in operation.get("responses", {}).items():
            out.append(self.response_html(status, response))
        out.append("</article>")
        return "\n".join(part for part in out if part)

    # -- the page --------------------------------------------------------------------------------

    def operations_by_tag(self):
        by_tag = {tag["name"]: [] for tag in self.spec.get("tags", [])}
        for path, item in self.spec.get("paths", {}).items():
            for method in METHODS:
                if method in item:
                    for tag in item[method].get("tags", ["Other"]):
                        by_tag.setdefault(tag, []).append((path, method, item[method], item.get("parameters", [])))
        return by_tag

    def page(self):
        info = self.spec["info"]
        by_tag = self.operations_by_tag()
        tags = {tag["name"]: tag for tag in self.spec.get("tags", [])}
        nav = ['<nav class="toc" aria-label="Contents"><ul>',
               '<li><a class="group" href="#overview">Overview</a></li>',
               '<li><a class="group" href="#security">Authentication &amp; security</a></li>']
        for tag, operations in by_tag.items():
            nav.append(f'<li><a class="group" href="#tag-{slug(tag)}">{esc(tag)}</a><ul>')
            for path, method, operation, _ in operations:
                nav.append(f'<li><a href="#op-{esc(operation.get("operationId", ""))}"><span class="method {method}">'
                           f'{method.upper()}</span>{esc(path)}</a></li>')
            nav.append("</ul></li>")
        nav.append('<li><a class="group" href="#errors">Error answers</a><ul>')
        for name in self.components.get("responses", {}):
            nav.append(f'<li><a href="#response-{esc(name)}">{esc(name)}</a></li>')
        nav.append('</ul></li><li><a class="group" href="#schemas">Schemas</a><ul>')
        for name in self.components.get("schemas", {}):
            nav.append(f'<li><a href="#schema-{esc(name)}">{esc(name)}</a></li>')
        nav.append("</ul></li></ul></nav>")

        body = [f'<section id="overview"><h2>Overview</h2>{markdown(info.get("description", ""))}']
        servers = self.spec.get("servers", [])
        if servers:
            body.append("<p>Base URL: " + ", ".join(
                f"<code>{esc(s['url'])}</code> ({esc(s.get('description', ''))})" for s in servers) + "</p>")
        body.append("<p>This page is rendered from <a href=\"/openapi.json\"><code>/openapi.json</code></a> "
                    "(OpenAPI " + esc(self.spec["openapi"]) + ").</p></section>")

        body.append('<section id="security"><h2>Authentication &amp; security</h2>')
        for name, scheme in self.components.get("securitySchemes", {}).items():
            kind = scheme.get("type")
            if kind == "http":
                kind = f"HTTP {scheme.get('scheme')}" + (f" ({scheme['bearerFormat']})" if scheme.get("bearerFormat") else "")
            body.append(f"<h4><code>{esc(name)}</code>: {esc(kind)}</h4>{markdown(scheme.get('description', ''))}")
        global_security = ", ".join(name for requirement in self.spec.get("security", []) for name in requirement)
        public = [(p, m, o) for p, item in self.spec.get("paths", {}).items() for m, o in item.items()
                  if m in METHODS and o.get("security") == []]
        body.append(f"<p>Every operation needs <code>{esc(global_security)}</code> unless it is public. Public "
                    "operations: " + ", ".join(
                        f'<a href="#op-{esc(o.get("operationId", ""))}"><code>{m.upper()} {esc(p)}</code></a>'
                        for p, m, o in public) + ".</p></section>")

        for tag, operations in by_tag.items():
            description = tags.get(tag, {}).get("description", "")
            body.append(f'<section id="tag-{slug(tag)}"><h2>{esc(tag)}</h2>{markdown(description)}')
            for path, method, operation, path_parameters in operations:
                body.append(self.operation_html(path, method, operation, path_parameters))
            body.append("</section>")

        body.append('<section id="errors"><h2>Error answers</h2><p>Shared by the operations above; every one is '
                    'an <a href="#schema-Error"><code>Error</code></a>.</p>')
        for name, response in self.components.get("responses", {}).items():
            body.append(f'<section class="schema" id="response-{esc(name)}"><h3>{esc(name)}</h3>'
                        f'{markdown(response.get("description", ""))}')
            if response.get("headers"):
                body.append("<h5>Headers</h5>" + self.headers_html(response["headers"]))
            for content in response.get("content", {}).values():
                body.append(self.examples_html(content, open_first=True))
            body.append("</section>")
        body.append("</section>")

        body.append('<section id="schemas"><h2>Schemas</h2>')
        for name, schema in self.components.get("schemas", {}).items():
            fhir = schema.get("x-fhir-resource")
            fhir_html = f' <span class="badge">FHIR {esc(fhir)}</span>' if fhir else ""
            body.append(f'<section class="schema" id="schema-{esc(name)}"><h3>{esc(name)}{fhir_html}</h3>'
                        f'{markdown(schema.get("description", ""))}')
            if schema.get("properties"):
                body.append(self.fields_table(schema))
            else:
                constraint = self.constraints(schema)
                body.append(f"<p>Type: {self.type_html(schema)}</p>"
                            + (f'<p class="constraints">{constraint}</p>' if constraint else ""))
            body.append("</section>")
        body.append("</section>")

        title = esc(info["title"])
        return "\n".join([
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{title} {esc(info['version'])}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            f'<header class="top"><h1>{title} <span class="badge">{esc(info["version"])}</span></h1>'
            f'<p>{inline(info.get("summary", ""))}</p></header>',
            '<div class="layout">',
            "\n".join(nav),
            "<main>",
            "\n".join(body),
            "</main>",
            "</div>",
            "</body>",
            "</html>",
            "",
        ])


def self_contained_problems(page):
    """What would make the page load or run something from elsewhere."""
    problems = []
    # Text is escaped, so a "<" here always opens a real tag.
    checks = [(r"<script", "a script"), (r"<[^>]*\ssrc\s*=", "a src attribute"), (r"<link\b", "a link element"),
              (r"@import", "a CSS import"), (r"url\(", "a CSS url()"), (r"href\s*=\s*\"(?:[a-z]+:)?//", "an external link"),
              (r"<[^>]*\son[a-z]+\s*=", "an event handler attribute"), (r"<iframe|<object|<embed", "an embedded object")]
    for pattern, what in checks:
        if re.search(pattern, page, re.IGNORECASE):
            problems.append(what)
    return problems


def render(spec):
    page = Renderer(spec).page()
    problems = self_contained_problems(page)
    if problems:
        raise SystemExit("the page would not be self-contained: " + ", ".join(problems))
    return page


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if Sources/Server/Resources/api.html is not current")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    page = render(json.loads(args.source.read_text(encoding="utf-8")))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != page:
            print(f"{args.output} is not current: run python3 scripts/render-api-docs.py", file=sys.stderr)
            return 1
        print(f"{args.output} is current")
        return 0
    args.output.write_text(page, encoding="utf-8")
    print(f"wrote {args.output} ({len(page.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
