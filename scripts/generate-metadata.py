#!/usr/bin/env python3
"""Generate Sources/FHIRModels/Metadata/FHIRMetadata+Data.swift from the official R4 StructureDefinitions.

Usage: python3 scripts/generate-metadata.py [--fixtures DIR]

DIR defaults to ../shared/fixtures beside the repository. Reads
  DIR/definitions/structuredefinitions/*.json   (the 148 resource types, incl. Resource and DomainResource)
  DIR/definitions/profiles-types.json           (the datatypes)
and writes one Swift string literal in a compact line format, so that a clean clone builds
without the fixtures. Python 3 standard library only; the output is deterministic.

Line format (fields separated by one space):
  T <name> <kind> <flags>
      kind: p primitive, c complex, r resource, b backbone; flags: a abstract, - none
  E <name> <min> <max> <flags> <type>|<type>...
      max: a number or *; flags: any of c choice, s summary, x xmlAttribute, h xhtml, or -
      types: FHIR type codes, "Resource" for any resource, or a backbone type name (Patient.contact)
Each E line belongs to the T line above it, in snapshot order.
"""

import argparse
import glob
import json
import os
import sys

FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_TYPES = {
    "String": "string",
    "Boolean": "boolean",
    "Integer": "integer",
    "Decimal": "decimal",
    "Date": "date",
    "DateTime": "dateTime",
    "Time": "time",
}
BACKBONE_CODES = {"BackboneElement", "Element"}
# Datatype profiles (derivation "constraint") kept as types with their base type's elements.
PROFILE_TYPES = {"MoneyQuantity", "SimpleQuantity"}


def type_code(type_entry):
    """The FHIR type code of one ElementDefinition.type entry, mapping System.* codes to FHIR primitives."""
    code = type_entry["code"]
    if not code.startswith("http://hl7.org/fhirpath/System."):
        return code
    for extension in type_entry.get("extension", []):
        if extension.get("url") == FHIR_TYPE_EXTENSION:
            return extension["valueUrl"]
    return SYSTEM_TYPES[code.rsplit(".", 1)[1]]


class TypeRecord:
    def __init__(self, name, kind, abstract):
        self.name = name
        self.kind = kind
        self.abstract = abstract
        self.elements = []  # (name, min, max, flags, types)

    def lines(self):
        yield "T %s %s %s" % (self.name, self.kind, "a" if self.abstract else "-")
        for name, lower, upper, flags, types in self.elements:
            yield "E %s %d %s %s %s" % (name, lower, upper, flags or "-", "|".join(types))


def convert(sd, name_override=None):
    """Turns one StructureDefinition snapshot into its type and the backbone types under it."""
    kind = {"primitive-type": "p", "complex-type": "c", "resource": "r"}[sd["kind"]]
    elements = sd["snapshot"]["element"]
    root = elements[0]["path"]
    paths = [element["path"] for element in elements]

    def has_children(path):
        prefix = path + "."
        return any(p.startswith(prefix) for p in paths)

    backbone_paths = set()
    for element in elements[1:]:
        codes = [t["code"] for t in element.get("type", [])]
        if len(codes) == 1 and codes[0] in BACKBONE_CODES and has_children(element["path"]):
            backbone_paths.add(element["path"])

    top_name = name_override or root
    records = {root: TypeRecord(top_name, kind, bool(sd.get("abstract")))}
    order = [root]
    for path in paths[1:]:
        if path in backbone_paths:
            records[path] = TypeRecord(path, "b", False)
            order.append(path)

    for element in elements[1:]:
        path = element["path"]
        parent, _, last = path.rpartition(".")
        if parent not in records:
            raise SystemExit("element %s has no parent type" % path)
        if kind == "p" and last == "value":
            continue  # a primitive's value is the JSON value itself, not an element
        choice = last.endswith("[x]")
        name = last[:-3] if choice else last
        upper = element["max"]
        flags = ""
        if choice:
            flags += "c"
        if element.get("isSummary"):
            flags += "s"
        if "contentReference" in element:
            target = element["contentReference"].lstrip("#")
            if target not in records and target not in backbone_paths:
                raise SystemExit("unresolved contentReference %s at %s" % (target, path))
            types = [target]
        elif path in backbone_paths:
            types = [path]
        else:
            types = [type_code(t) for t in element.get("type", [])]
        if not types:
            raise SystemExit("element %s has no type" % path)
        if kind == "r" and parent == root and name == "id":
            types = ["id"]  # Resource.id is an id primitive in JSON and XML
        representation = element.get("representation", [])
        if "xmlAttr" in representation:
            flags += "x"
        if types == ["xhtml"]:
            flags += "h"
        records[parent].elements.append((name, int(element["min"]), upper, flags, types))

    return [records[path] for path in order]


def main():
    script_dir = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(script_dir)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", default=os.path.join(repo, "..", "shared", "fixtures"))
    parser.add_argument("--output", default=os.path.join(repo, "Sources", "FHIRModels", "Metadata",
                                                          "FHIRMetadata+Data.swift"))
    args = parser.parse_args()
    definitions = os.path.join(args.fixtures, "definitions")

    with open(os.path.join(definitions, "profiles-types.json"), encoding="utf-8") as handle:
        bundle = json.load(handle)
    datatypes = [entry["resource"] for entry in bundle["entry"]]
    by_id = {sd["id"]: sd for sd in datatypes}

    records = []
    for sd in datatypes:
        if sd.get("derivation") == "constraint":
            if sd["id"] not in PROFILE_TYPES:
                raise SystemExit("unexpected datatype profile %s" % sd["id"])
            base = by_id[sd["type"]]
            records += convert(base, name_override=sd["id"])[:1]
        else:
            records += convert(sd)

    resource_files = sorted(glob.glob(os.path.join(definitions, "structuredefinitions", "StructureDefinition-*.json")))
    resources = []
    for path in resource_files:
        with open(path, encoding="utf-8") as handle:
            resources.append(json.load(handle))
    for sd in sorted(resources, key=lambda sd: sd["type"]):
        if sd["kind"] != "resource" or sd.get("derivation", "specialization") != "specialization":
            raise SystemExit("unexpected StructureDefinition %s" % sd["id"])
        records += convert(sd)

    names = [record.name for record in records]
    if len(names) != len(set(names)):
        raise SystemExit("duplicate type names")
    known = set(names) | {"Resource"}
    for record in records:
        for element in record.elements:
            for code in element[4]:
                if code not in known:
                    raise SystemExit("unknown type %s in %s.%s" % (code, record.name, element[0]))

    lines = [line for record in records for line in record.lines()]
    body = "\n".join(lines)
    if '"""#' in body or "\\" in body:
        raise SystemExit("metadata text cannot be embedded in a raw string literal")

    swift = (
        "// Generated by scripts/generate-metadata.py from the official FHIR R4 (4.0.1) StructureDefinitions.\n"
        "// Do not edit by hand: change the script and run it again.\n"
        "// Format: see the script's docstring. `T name kind flags` starts a type;\n"
        "// `E name min max flags types` lines follow it in snapshot order.\n"
        "\n"
        "extension FHIRMetadata {\n"
        "    static let encoded: String = #\"\"\"\n"
        + body + "\n"
        "\"\"\"#\n"
        "}\n"
    )
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(swift)

    kinds = {}
    for record in records:
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
    element_count = sum(len(record.elements) for record in records)
    concrete = sum(1 for record in records if record.kind == "r" and not record.abstract)
    print("wrote %s" % os.path.relpath(args.output, os.getcwd()))
    print("types: %d (primitive %d, complex %d, resource %d of which concrete %d, backbone %d)" % (
        len(records), kinds.get("p", 0), kinds.get("c", 0), kinds.get("r", 0), concrete, kinds.get("b", 0)))
    print("elements: %d; bytes: %d" % (element_count, len(swift.encode("utf-8"))))


if __name__ == "__main__":
    sys.exit(main())
