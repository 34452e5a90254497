#!/usr/bin/env python3
"""Checks Sources/Server/Resources/openapi.json, for CI. Exits 1 on the first run with any failure, listing them all.

1. The document is valid OpenAPI 3.1 (openapi-spec-validator).
2. Every example (request and response bodies, parameters, headers) validates against its schema
   (JSON Schema 2020-12 with the OpenAPI dialect and format checks, openapi-schema-validator).
3. Request examples carry no read-only member; response examples of a record carry its `id`.
4. Every operation has an operationId, a known tag, a summary, 4xx answers in the error shape, and
   examples for each body; public operations (and only they) say `security: []`.
5. Exactly the expected routes are there: the 30 platform operations, the auth routes and the two
   document routes; lists take limit and cursor, reads and writes answer an ETag, creates a Location.
6. (for Sources/Server/Resources/openapi.json itself) it is what scripts/generate-openapi.py writes, and Sources/Server/Resources/api.html is what
   scripts/render-api-docs.py renders from it.

    python3 scripts/check-openapi.py [OTHER.json]

Needs: pip install openapi-spec-validator==0.9.0 (it brings openapi-schema-validator and jsonschema).
"""

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "Sources" / "Server" / "Resources" / "openapi.json"
BASE = "urn:medrec:openapi"

COLLECTIONS = {
    "patients": ("Patient", "Patients"),
    "doctors": ("Doctor", "Doctors"),
    "appointments": ("Appointment", "Appointments"),
    "medical-records": ("MedicalRecord", "MedicalRecords"),
    "prescriptions": ("Prescription", "Prescriptions"),
    "billings": ("Billing", "Billings"),
}


def platform_operations():
    """The 30 platform operations: (method, path, operationId)."""
    for path, (model, plural) in COLLECTIONS.items():
        yield "get", f"/{path}", f"list{plural}"
        yield "post", f"/{path}", f"create{model}"
        yield "get", f"/{path}/{{id}}", f"get{model}"
        yield "put", f"/{path}/{{id}}", f"update{model}"
        yield "delete", f"/{path}/{{id}}", "cancelAppointment" if model == "Appointment" else f"delete{model}"


OTHER_OPERATIONS = [
    ("post", "/auth/register", "register"),
    ("post", "/auth/login", "login"),
    ("post", "/auth/refresh", "refresh"),
    ("post", "/auth/logout", "logout"),
    ("get", "/auth/me", "getCurrentUser"),
    ("get", "/openapi.json", "getOpenAPIDocument"),
    ("get", "/docs", "getAPIDocs"),
]
PUBLIC = {"register", "login", "refresh", "getOpenAPIDocument", "getAPIDocs"}
# The two documents cannot fail because of what a client sends: no 4xx to describe.
NO_CLIENT_ERRORS = {"getOpenAPIDocument", "getAPIDocs"}
METHODS = ["get", "put", "post", "delete", "patch", "options", "head", "trace"]


class Checker:
    def __init__(self, spec):
        self.spec = spec
        self.failures = []
        registry = Registry().with_resource(BASE, Resource.from_contents(spec, default_specification=DRAFT202012))
        self.registry = registry
        self.examples_checked = 0

    def fail(self, where, message):
        self.failures.append(f"{where}: {message}")

    # -- references ---------------------------------------------------------------------------

    def resolve(self, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            target = node["$ref"]
            if not target.startswith("#/"):
                raise ValueError(f"external reference {target}")
            node = self.spec
            for part in target[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            seen += 1
        return node

    @staticmethod
    def pointer(parts):
        return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)

    def validator(self, schema_parts):
        schema = {"$ref": BASE + "#" + quote(self.pointer(schema_parts), safe="/~")}
        return OAS31Validator(schema, registry=self.registry, format_checker=oas31_format_checker)

    def schema_of(self, schema_parts):
        node = self.spec
        for part in schema_parts:
            node = node[part]
        return self.resolve(node)

    # -- 2. and 3. examples -------------------------------------------------------------------

    def check_example(self, where, schema_parts, value):
        self.examples_checked += 1
        errors = sorted(self.validator(schema_parts).iter_errors(value), key=lambda e: list(e.absolute_path))
        for error in errors:
            at = "/".join(str(p) for p in error.absolute_path) or "(root)"
            self.fail(where, f"example does not match its schema at {at}: {error.message}")

    def examples_of(self, holder):
        """(name, value) of `example` and `examples` on a media type, parameter or header."""
        found = []
        if "example" in holder:
            found.append(("example", holder["example"]))
        for name, example in (holder.get("examples") or {}).items():
            example = self.resolve(example)
            if "value" in example:
                found.append((name, example["value"]))
        return found

    def check_holder(self, where, parts, holder):
        if "schema" not in holder:
            return
        for name, value in self.examples_of(holder):
            self.check_example(f"{where} example '{name}'", parts + ["schema"], value)

    def read_only_members(self, schema, value, path=""):
        """Paths of read-only members present in `value`."""
        schema = self.resolve(schema)
        found = []
        if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
            for key, member in value.items():
                sub = schema["properties"].get(key)
                if sub is None:
                    continue
                if self.resolve(sub).get("readOnly") or (isinstance(sub, dict) and sub.get("readOnly")):
                    found.append(path + key)
                else:
                    found.extend(self.read_only_members(sub, member, path + key + "."))
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                found.extend(self.read_only_members(schema["items"], item, f"{path}[{index}]."))
        return found

    def walk_examples(self):
        components = self.spec.get("components", {})
        for name, parameter in components.get("parameters", {}).items():
            self.check_holder(f"components.parameters.{name}", ["components", "parameters", name], parameter)
        for name, header in components.get("headers", {}).items():
            self.check_holder(f"components.headers.{name}", ["components", "headers", name], header)
        for name, response in components.get("responses", {}).items():
            for media, content in response.get("content", {}).items():
                self.check_holder(f"components.responses.{name} {media}",
                                  ["components", "responses", name, "content", media], content)
        for path, item in self.spec["paths"].items():
            for index, parameter in enumerate(item.get("parameters", [])):
                if "$ref" not in parameter:
                    self.check_holder(f"{path} parameter {parameter.get('name')}", ["paths", path, "parameters", index],
                                      parameter)
            for method in METHODS:
                operation = item.get(method)
                if not operation:
                    continue
                where = f"{method.upper()} {path}"
                base = ["paths", path, method]
                for index, parameter in enumerate(operation.get("parameters", [])):
                    if "$ref" not in parameter:
                        self.check_holder(f"{where} parameter {parameter.get('name')}", base + ["parameters", index],
                                          parameter)
                body = operation.get("requestBody")
                if body and "$ref" not in body:
                    for media, content in body.get("content", {}).items():
                        parts = base + ["requestBody", "content", media]
                        self.check_holder(f"{where} request {media}", parts, content)
                        if not self.examples_of(content):
                            self.fail(where, f"request body {media} has no example")
                        for name, value in self.examples_of(content):
                            for member in self.read_only_members(content["schema"], value):
                                self.fail(where, f"request example '{name}' sends read-only member {member}")
                for status, response in operation.get("responses", {}).items():
                    if "$ref" in response:
                        continue
                    for name, header in response.get("headers", {}).items():
                        if "$ref" not in header:
                            self.check_holder(f"{where} {status} header {name}",
                                              base + ["responses", status, "headers", name], header)
                    for media, content in response.get("content", {}).items():
                        parts = base + ["responses", status, "content", media]
                        self.check_holder(f"{where} {status} {media}", parts, content)
                        if not self.examples_of(content):
                            self.fail(where, f"response {status} {media} has no example")
                        schema = self.resolve(content.get("schema", {}))
                        if "id" in schema.get("properties", {}) and status.startswith("2"):
                            for name, value in self.examples_of(content):
                                if isinstance(value, dict) and "id" not in value:
                                    self.fail(where, f"response example '{name}' has no id")

    # -- 4. and 5. operations -----------------------------------------------------------------

    def is_error_response(self, response):
        response = self.resolve(response)
        content = response.get("content", {}).get("application/json")
        return bool(content) and content.get("schema", {}).get("$ref") == "#/components/schemas/Error"

    def check_operations(self):
        tags = {tag["name"] for tag in self.spec.get("tags", [])}
        expected = list(platform_operations()) + OTHER_OPERATIONS
        if len(list(platform_operations())) != 30:
            self.fail("checker", "the platform list is not 30 operations")
        expected_keys = {(m, p) for m, p, _ in expected}
        operation_ids = set()
        for method, path, operation_id in expected:
            operation = self.spec["paths"].get(path, {}).get(method)
            if operation is None:
                self.fail(f"{method.upper()} {path}", "missing")
                continue
            if operation.get("operationId") != operation_id:
                self.fail(f"{method.upper()} {path}", f"operationId is {operation.get('operationId')!r}, expected {operation_id!r}")
        global_security = self.spec.get("security")
        if global_security != [{"bearerAuth": []}]:
            self.fail("security", "the bearer scheme must apply globally")
        for path, item in self.spec["paths"].items():
            for method in METHODS:
                operation = item.get(method)
                if not operation:
                    continue
                where = f"{method.upper()} {path}"
                if (method, path) not in expected_keys:
                    self.fail(where, "not an expected route (add it to check-openapi.py if it is new)")
                operation_id = operation.get("operationId")
                if not operation_id:
                    self.fail(where, "no operationId")
                elif operation_id in operation_ids:
                    self.fail(where, f"duplicate operationId {operation_id}")
                operation_ids.add(operation_id)
                if not operation.get("summary"):
                    self.fail(where, "no summary")
                if not operation.get("tags") or any(tag not in tags for tag in operation["tags"]):
                    self.fail(where, "no tag, or a tag not declared at the top level")
                if operation_id in PUBLIC:
                    if operation.get("security") != []:
                        self.fail(where, "a public operation must say security: []")
                elif "security" in operation:
                    self.fail(where, "a protected operation must use the global bearer security")
                responses = operation.get("responses", {})
                client_errors = {s: r for s, r in responses.items() if s.startswith("4")}
                if operation_id not in NO_CLIENT_ERRORS:
                    if not client_errors:
                        self.fail(where, "no 4xx response")
                    if operation_id not in PUBLIC and "401" not in client_errors:
                        self.fail(where, "a protected operation must answer 401")
                for status, response in responses.items():
                    if status[0] in "45" and not self.is_error_response(response):
                        self.fail(where, f"response {status} does not use the Error schema")
                    if not status[0] in "12345" and status != "default":
                        self.fail(where, f"odd status {status}")
                if not any(status.startswith("2") for status in responses):
                    self.fail(where, "no 2xx response")
        for method, path, operation_id in platform_operations():
            operation = self.spec["paths"].get(path, {}).get(method)
            if operation is None:
                continue
            where = f"{method.upper()} {path}"
            names = {self.resolve(p).get("name") for p in operation.get("parameters", [])}
            names |= {self.resolve(p).get("name") for p in self.spec["paths"][path].get("parameters", [])}
            success = next((self.resolve(r) for s, r in operation["responses"].items() if s.startswith("2")), {})
            headers = set(success.get("headers", {}))
            if operation_id.startswith("list") and not {"limit", "cursor"} <= names:
                self.fail(where, "a list must take limit and cursor")
            if "{id}" in path and "id" not in names:
                self.fail(where, "no id path parameter")
            if operation_id.startswith(("get", "create", "update")) and "ETag" not in headers:
                self.fail(where, "no ETag header on the success answer")
            if operation_id.startswith("update") and "If-Match" not in names:
                self.fail(where, "a PUT must take If-Match")
            if operation_id.startswith("create"):
                if "Location" not in headers:
                    self.fail(where, "no Location header on 201")
                if "201" not in operation["responses"]:
                    self.fail(where, "a create must answer 201")
            if operation_id.startswith("delete") and "204" not in operation["responses"]:
                self.fail(where, "a delete must answer 204")

    # -- 6. generated files -------------------------------------------------------------------

    def check_generated(self):
        for script in ("generate-openapi.py", "render-api-docs.py"):
            result = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--check"],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                self.fail(script, (result.stderr or result.stdout).strip() or f"--check exited {result.returncode}")


def main():
    path = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else SPEC
    spec = json.loads(path.read_text(encoding="utf-8"))
    checker = Checker(spec)
    try:
        validate(spec)
    except Exception as error:  # the validator's errors carry the path; report and go on
        checker.fail("openapi-spec-validator", str(error).splitlines()[0])
    checker.walk_examples()
    checker.check_operations()
    if path == SPEC:
        checker.check_generated()
    operations = sum(1 for item in spec["paths"].values() for m in METHODS if m in item)
    if checker.failures:
        for failure in checker.failures:
            print(f"FAIL {failure}", file=sys.stderr)
        print(f"{len(checker.failures)} failure(s)", file=sys.stderr)
        return 1
    print(f"{path.name}: valid OpenAPI {spec['openapi']}; {operations} operations; "
          f"{checker.examples_checked} examples match their schemas; generated files current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
