#!/usr/bin/env python3
"""Checks the FHIR face's OpenAPI document (GET /fhir/openapi.json), for FHIROpenAPITests and CI.

    python3 scripts/check-fhir-openapi.py DOCUMENT.json FIXTURES_DIR

1. The document is valid OpenAPI 3.1 (openapi-spec-validator, which also resolves every $ref).
2. Real data validates against the schemas (JSON Schema 2020-12, jsonschema): every HL7 R4 JSON
   example under FIXTURES_DIR/hl7-examples/json against the schema of its resourceType, and every
   resource of every Synthea bundle under FIXTURES_DIR/synthea (the first 200 entries of each).
3. Broken resources do not: for each of a few real examples, an unknown element, a malformed date,
   an empty array, a wrong resourceType, a number where a string belongs and a missing required
   element must each be rejected, so the check above can fail.
Prints the counts as `key=value` lines and one line per failure; exits 1 on any failure.

Needs: pip install openapi-spec-validator==0.9.0 (it brings openapi-schema-validator and jsonschema).
"""

import copy
import json
import sys
from pathlib import Path

try:
    from jsonschema import Draft202012Validator
    from openapi_spec_validator import validate
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
except ImportError:
    print("missing Python modules: pip install openapi-spec-validator==0.9.0", file=sys.stderr)
    sys.exit(2)

# HL7 publishes a few R4 examples that break the specification's own rules; the server's
# validator refuses them too (docs/conformance.md). Named here so that a new failure is not hidden.
KNOWN_INVALID_EXAMPLES = set()


def main():
    document_path, fixtures = Path(sys.argv[1]), Path(sys.argv[2])
    document = json.loads(document_path.read_text())
    failures = []

    try:
        validate(document)
        print("openapi_valid=1")
    except Exception as error:  # the validator raises its own error types
        failures.append(f"openapi-spec-validator: {str(error)[:400]}")
        print("openapi_valid=0")

    schemas = document["components"]["schemas"]
    registry = Registry().with_resource("urn:fhir-openapi", Resource(document, specification=DRAFT202012))
    validators = {}

    def validator(resource_type):
        if resource_type not in validators:
            schema = {"$ref": f"urn:fhir-openapi#/components/schemas/{resource_type}"}
            validators[resource_type] = Draft202012Validator(schema, registry=registry)
        return validators[resource_type]

    def errors(resource):
        resource_type = resource.get("resourceType")
        if resource_type not in schemas:
            return [f"no schema for resourceType {resource_type!r}"]
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:160]}" for e in validator(resource_type).iter_errors(resource)]

    examples = sorted((fixtures / "hl7-examples" / "json").glob("*.json"))
    accepted = 0
    for path in examples:
        resource = json.loads(path.read_text())
        problems = errors(resource)
        if problems and path.stem not in KNOWN_INVALID_EXAMPLES:
            failures.append(f"{path.name}: {problems[0]} ({len(problems)} errors)")
        elif not problems:
            accepted += 1
    print(f"hl7_examples={len(examples)}")
    print(f"hl7_examples_valid={accepted}")

    synthea_resources = synthea_valid = 0
    bundles = sorted((fixtures / "synthea").glob("*.json"))
    for path in bundles:
        bundle = json.loads(path.read_text())
        for entry in bundle.get("entry", [])[:200]:
            resource = entry["resource"]
            synthea_resources += 1
            problems = errors(resource)
            if problems:
                failures.append(f"{path.name} {resource.get('resourceType')}: {problems[0]}")
            else:
                synthea_valid += 1
    print(f"synthea_bundles={len(bundles)}")
    print(f"synthea_resources={synthea_resources}")
    print(f"synthea_resources_valid={synthea_valid}")

    # Each mutation must be refused; a schema that accepts them would make the checks above empty.
    mutations = {
        "unknown element": lambda r: r.__setitem__("notAnElement", "x"),
        "malformed date": lambda r: r.__setitem__("birthDate", "1980-13-45") if r["resourceType"] == "Patient"
        else r.__setitem__("issued", "yesterday") if r["resourceType"] == "Observation" else r.__setitem__("date", "not a date"),
        "empty array": lambda r: r.__setitem__("identifier", []),
        "wrong resourceType": lambda r: r.__setitem__("resourceType", "NoSuchType"),
        "number for a string": lambda r: r.__setitem__("id", 42),
        # Observation.code and Encounter.class are 1..1; Patient.link.other is 1..1 in a link.
        "missing required": lambda r: r.pop("code") if r["resourceType"] == "Observation"
        else r.pop("class") if r["resourceType"] == "Encounter" else r.__setitem__("link", [{"type": "seealso"}]),
    }
    refused = tried = 0
    for name in ["patient-example.json", "observation-example.json", "encounter-example.json"]:
        path = fixtures / "hl7-examples" / "json" / name
        if not path.exists():
            failures.append(f"mutation base {name} missing")
            continue
        base = json.loads(path.read_text())
        for label, mutate in mutations.items():
            resource = copy.deepcopy(base)
            mutate(resource)
            tried += 1
            if errors(resource):
                refused += 1
            else:
                failures.append(f"{name} with {label}: accepted by the schema")
    print(f"mutations={tried}")
    print(f"mutations_refused={refused}")

    for failure in failures:
        print("FAIL " + failure)
    print(f"failures={len(failures)}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
