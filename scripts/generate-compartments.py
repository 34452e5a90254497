#!/usr/bin/env python3
"""Generate Sources/Server/Access/PatientCompartment+Data.swift from the FHIR R4 definitions.

Reads CompartmentDefinition-patient.json and search-parameters.json (and the resource
StructureDefinitions, to check every path ends at a Reference) from the fixtures'
`definitions/` folder and writes, for each resource type in the Patient compartment, the
element paths whose Patient references put a resource in a patient's compartment.

Usage:
    python3 scripts/generate-compartments.py [DEFINITIONS_DIR]

DEFINITIONS_DIR defaults to $MEDREC_FIXTURES/definitions, else ../shared/fixtures/definitions
beside the repository. Parameters whose FHIRPath expression cannot be turned into element
paths are listed on stderr and make the script exit 1 (the output is still written).
"""
import json
import os
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "Sources" / "Server" / "Access" / "PatientCompartment+Data.swift"


def definitions_dir():
    if len(sys.argv) > 1:
        return pathlib.Path(sys.argv[1])
    configured = os.environ.get("MEDREC_FIXTURES")
    if configured:
        return pathlib.Path(configured) / "definitions"
    for base in [ROOT.parent, ROOT.parent.parent]:
        candidate = base / "shared" / "fixtures" / "definitions"
        if candidate.is_dir():
            return candidate
    sys.exit("generate-compartments: definitions folder not found; pass it as the first argument")


def split_union(expression):
    """Top-level `|` parts of a FHIRPath expression (not inside parentheses)."""
    parts, depth, current = [], 0, ""
    for char in expression:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "|" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [part for part in parts if part]


def strip_outer_parentheses(text):
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for index, char in enumerate(text):
            depth += 1 if char == "(" else -1 if char == ")" else 0
            if depth == 0 and index < len(text) - 1:
                return text
        text = text[1:-1].strip()
    return text


class Elements:
    """Element definitions of one resource type, for checking paths and expanding choices."""

    def __init__(self, folder, resource_type):
        path = folder / "structuredefinitions" / f"StructureDefinition-{resource_type}.json"
        self.types = {}
        if path.exists():
            definition = json.loads(path.read_text())
            for element in definition["snapshot"]["element"]:
                self.types[element["path"]] = [t["code"] for t in element.get("type", [])]

    def reference_path(self, resource_type, steps, cast):
        """JSON member names for `steps`, or None when the path does not end at a Reference."""
        if not self.types:
            return steps if cast in (None, "Reference") else None
        names = []
        path = resource_type
        for index, step in enumerate(steps):
            last = index == len(steps) - 1
            if f"{path}.{step}" in self.types:
                path = f"{path}.{step}"
                names.append(step)
                if last and cast is not None:
                    if cast not in self.types[path]:
                        return None
            elif f"{path}.{step}[x]" in self.types:
                choice = cast if last else None
                if choice is None or choice not in self.types[f"{path}.{step}[x]"]:
                    return None
                path = f"{path}.{step}[x]"
                names.append(step + choice[0].upper() + choice[1:])
            else:
                return None
        return names if "Reference" in self.types.get(path, []) else None


STEP = r"[A-Za-z][A-Za-z0-9]*"
PATH = re.compile(rf"^({STEP}(?:\.{STEP})*)$")
WHERE_PATIENT = re.compile(r"\.where\(\s*resolve\(\)\s+is\s+Patient\s*\)$")
AS_FUNCTION = re.compile(rf"\.as\(\s*({STEP})\s*\)$")
AS_OPERATOR = re.compile(rf"\s+as\s+({STEP})$")


def resolve_part(part, resource_type, elements):
    """Element names for one union part of an expression, or None when it is not understood."""
    text = strip_outer_parentheses(part)
    cast = None
    # Peel suffixes until a plain dotted path is left: `.where(resolve() is Patient)`
    # only narrows the target type (checked at run time), `as`/`as()` picks a choice type.
    while True:
        if WHERE_PATIENT.search(text):
            text = strip_outer_parentheses(WHERE_PATIENT.sub("", text))
            continue
        match = AS_FUNCTION.search(text) or AS_OPERATOR.search(text)
        if match:
            if cast is not None and cast != match.group(1):
                return None
            cast = match.group(1)
            text = strip_outer_parentheses(text[: match.start()])
            continue
        break
    match = PATH.match(text)
    if not match:
        return None
    steps = match.group(1).split(".")
    if steps[0] != resource_type or len(steps) < 2:
        return None
    return elements.reference_path(resource_type, steps[1:], cast)


def parts_for_type(expression, resource_type):
    """The union parts of `expression` that apply to `resource_type`."""
    selected = []
    for part in split_union(expression):
        head = strip_outer_parentheses(part)
        if head.split(".")[0].split(" ")[0] == resource_type:
            selected.append(part)
    return selected


def main():
    folder = definitions_dir()
    compartment = json.loads((folder / "CompartmentDefinition-patient.json").read_text())
    bundle = json.loads((folder / "search-parameters.json").read_text())
    parameters = {}
    for entry in bundle.get("entry", []):
        parameter = entry["resource"]
        for base in parameter.get("base", []):
            parameters[(base, parameter["code"])] = parameter

    table = {}
    failures = []
    resolved = 0
    for resource in compartment["resource"]:
        resource_type = resource["code"]
        codes = resource.get("param", [])
        if not codes:
            continue
        elements = Elements(folder, resource_type)
        paths = []
        for code in codes:
            if code == "{def}":
                # The resource itself is the compartment's focus (Patient); nothing to follow.
                resolved += 1
                continue
            parameter = parameters.get((resource_type, code))
            if parameter is None or not parameter.get("expression"):
                failures.append(f"{resource_type}.{code}: no search parameter with an expression")
                continue
            parts = parts_for_type(parameter["expression"], resource_type)
            found = [resolve_part(part, resource_type, elements) for part in parts]
            if not parts or any(names is None for names in found):
                failures.append(f"{resource_type}.{code}: cannot resolve {parameter['expression']!r}")
                continue
            resolved += 1
            for names in found:
                if names not in paths:
                    paths.append(names)
        table[resource_type] = paths

    OUTPUT.write_text(render(table))
    total = sum(len(r.get("param", [])) for r in compartment["resource"])
    print(f"generate-compartments: {resolved}/{total} parameters resolved, "
          f"{len(table)} resource types -> {OUTPUT.relative_to(ROOT)}", file=sys.stderr)
    for failure in failures:
        print(f"generate-compartments: unresolved {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)


def render(table):
    lines = [
        "// Generated by scripts/generate-compartments.py from the FHIR R4 CompartmentDefinition-patient.json",
        "// and search-parameters.json. Do not edit; regenerate with:",
        "//     python3 scripts/generate-compartments.py [path/to/fixtures/definitions]",
        "",
        "extension PatientCompartment {",
        "    /// Member paths per resource type in the Patient compartment, in definition order.",
        "    static let pathsByType: [String: [[String]]] = [",
    ]
    for resource_type in sorted(table):
        paths = ", ".join("[" + ", ".join(f'"{name}"' for name in path) + "]" for path in table[resource_type])
        lines.append(f'        "{resource_type}": [{paths}],')
    lines += ["    ]", "}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
