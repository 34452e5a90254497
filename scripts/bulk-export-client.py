#!/usr/bin/env python3
"""A plain FHIR Bulk Data Access v2 export client (stdlib + `cryptography`), written from the
IG rather than from this server's code, to check a system-level `$export` from the outside.

    bulk-export-client.py --fhir-url http://127.0.0.1:8080/fhir --client-id client-… \
        --private-key key.pem --kid my-key --out ./export \
        --expect AllergyIntolerance=11,Condition=555,…

Steps, each as the IG and SMART Backend Services say:
  1. discovery: GET [base]/.well-known/smart-configuration (token_endpoint);
  2. token: POST token_endpoint, grant_type=client_credentials, scope, client_assertion_type
     jwt-bearer, client_assertion = JWT {alg RS384|ES384, kid, typ JWT} {iss = sub = client id,
     aud = token_endpoint, exp ≤ 5 min ahead, random jti}, signed with the private key;
  3. kick-off: GET [base]/$export with Accept: application/fhir+json, Prefer: respond-async
     → 202 and Content-Location;
  4. status: GET the Content-Location until 200, honouring Retry-After on 202 (and 429);
  5. files: GET every output[].url (and error[].url), with the bearer token when the manifest
     says requiresAccessToken, Accept: application/fhir+ndjson;
  6. DELETE the status URL (the client is done with the files);
then counts the resources per type (lines parsed as JSON, resourceType checked, ids unique) and,
with --expect, compares them with the expected counts. The last line is PASS or FAIL; the exit
status is 0 only on PASS.
"""

import argparse
import base64
import email.utils
import gzip
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


class Failure(Exception):
    pass


def log(message):
    print(message, file=sys.stderr, flush=True)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def http(method, url, headers=None, data=None, timeout=120):
    """(status, headers, body bytes); HTTP errors are answers too, not exceptions."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def describe(status, body):
    text = body[:600].decode("utf-8", "replace")
    try:
        outcome = json.loads(body)
        if outcome.get("resourceType") == "OperationOutcome":
            text = "; ".join(i.get("diagnostics") or i.get("details", {}).get("text") or i.get("code", "")
                             for i in outcome.get("issue", []))
    except (ValueError, AttributeError):
        pass
    return f"{status} {text}"


def retry_after(headers, default):
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    value = headers.get("Retry-After")
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return default


class Client:
    def __init__(self, args):
        self.base = args.fhir_url.rstrip("/")
        self.client_id = args.client_id
        self.scope = args.scope
        self.kid = args.kid
        with open(args.private_key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        if isinstance(self.key, rsa.RSAPrivateKey):
            self.alg = "RS384"
        elif isinstance(self.key, ec.EllipticCurvePrivateKey) and self.key.curve.name == "secp384r1":
            self.alg = "ES384"
        else:
            raise Failure("the private key must be RSA (RS384) or EC P-384 (ES384)")
        self.token = None
        self.token_expires = 0.0
        self.token_endpoint = None
        self.strict_discovery = args.strict_discovery
        self.notes = []

    # 1. Discovery
    def discover(self):
        url = f"{self.base}/.well-known/smart-configuration"
        status, _, body = http("GET", url, {"Accept": "application/json"})
        if status != 200:
            origin = urllib.parse.urlsplit(self.base)
            fallback = f"{origin.scheme}://{origin.netloc}/.well-known/smart-configuration"
            message = (f"discovery: GET {url} answered {describe(status, body)}; SMART App Launch 2 "
                       f"(conformance, 'Using well-known') puts it at [base]/.well-known/smart-configuration")
            if self.strict_discovery or fallback == url:
                raise Failure(message)
            log(f"WARNING {message}; trying {fallback}")
            url = fallback
            status, _, body = http("GET", url, {"Accept": "application/json"})
            if status != 200:
                raise Failure(f"discovery: GET {url} answered {describe(status, body)}")
        configuration = json.loads(body)
        self.token_endpoint = configuration.get("token_endpoint")
        if not self.token_endpoint:
            raise Failure(f"discovery: {url} has no token_endpoint")
        methods = configuration.get("token_endpoint_auth_methods_supported", [])
        algorithms = configuration.get("token_endpoint_auth_signing_alg_values_supported", [])
        if "private_key_jwt" not in methods:
            log(f"WARNING discovery: token_endpoint_auth_methods_supported {methods} lacks private_key_jwt")
        if algorithms and self.alg not in algorithms:
            log(f"WARNING discovery: token_endpoint_auth_signing_alg_values_supported {algorithms} lacks {self.alg}")
        log(f"discovery: {url} → token_endpoint {self.token_endpoint}")

    # 2. Token
    def assertion(self):
        header = {"alg": self.alg, "kid": self.kid, "typ": "JWT"}
        now = int(time.time())
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.token_endpoint,
                  "exp": now + 240, "jti": secrets.token_urlsafe(32)}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + b64url(json.dumps(claims, separators=(",", ":")).encode())).encode("ascii")
        if self.alg == "RS384":
            signature = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA384())
        else:  # ES384: the JWS form is r || s, 48 bytes each, not DER
            r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA384())))
            signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
        return signing_input.decode("ascii") + "." + b64url(signature)

    def authorize(self):
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials",
            "scope": self.scope,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.assertion(),
        }).encode("ascii")
        status, _, body = http("POST", self.token_endpoint,
                               {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}, form)
        if status != 200:
            raise Failure(f"token: POST {self.token_endpoint} answered {describe(status, body)}")
        answer = json.loads(body)
        if answer.get("token_type", "").lower() != "bearer" or not answer.get("access_token"):
            raise Failure(f"token: unexpected answer {body[:300]!r}")
        self.token = answer["access_token"]
        self.token_expires = time.time() + int(answer.get("expires_in", 300))
        log(f"token: {answer.get('token_type')} for scope {answer.get('scope')!r}, expires in {answer.get('expires_in')} s")

    def bearer(self):
        if self.token is None or time.time() > self.token_expires - 30:
            self.authorize()  # a new assertion (new jti) for every token
        return {"Authorization": f"Bearer {self.token}"}

    # 3. Kick-off
    def kick_off(self, types):
        url = f"{self.base}/$export"
        if types:
            url += "?" + urllib.parse.urlencode({"_type": types})
        headers = {"Accept": "application/fhir+json", "Prefer": "respond-async", **self.bearer()}
        status, answer_headers, body = http("GET", url, headers)
        if status != 202:
            raise Failure(f"kick-off: GET {url} answered {describe(status, body)} (the IG wants 202 Accepted)")
        location = answer_headers.get("Content-Location")
        if not location:
            raise Failure("kick-off: 202 without Content-Location")
        log(f"kick-off: GET {url} → 202, Content-Location {location}")
        return location

    # 4. Status
    def wait(self, location, timeout):
        deadline = time.time() + timeout
        delay = 1.0
        while True:
            status, headers, body = http("GET", location, {"Accept": "application/json", **self.bearer()})
            if status == 200:
                return json.loads(body)
            if status in (202, 429):
                wait = retry_after(headers, delay)
                delay = min(delay * 2, 60)  # back off when the server gives no Retry-After
                log(f"status: {status} {headers.get('X-Progress') or ''} (Retry-After {headers.get('Retry-After')}, waiting {wait:g} s)")
                if time.time() + wait > deadline:
                    raise Failure(f"status: still not done after {timeout} s")
                time.sleep(wait)
                continue
            raise Failure(f"status: GET {location} answered {describe(status, body)}")

    # 5. Files
    def download(self, url, requires_token, path):
        headers = {"Accept": "application/fhir+ndjson", "Accept-Encoding": "gzip"}
        if requires_token:
            headers.update(self.bearer())
        status, answer_headers, body = http("GET", url, headers, timeout=600)
        if status != 200:
            raise Failure(f"download: GET {url} answered {describe(status, body)}")
        if (answer_headers.get("Content-Encoding") or "").lower() == "gzip":
            members = gzip_members(body)
            if members > 1:
                # Valid RFC 1952, but Python httpx (smart-fetch) and libcurl 7.x inflate only the
                # first member and drop the rest without an error.
                self.notes.append(f"{url}: the gzip body has {members} members (clients that inflate only the first lose data)")
            body = gzip.decompress(body)
        with open(path, "wb") as f:
            f.write(body)
        return body

    def delete(self, location):
        status, _, body = http("DELETE", location, self.bearer())
        if status not in (200, 202, 204, 404):
            log(f"WARNING delete: DELETE {location} answered {describe(status, body)}")


def gzip_members(body: bytes) -> int:
    count, rest = 0, body
    while rest:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        inflater.decompress(rest)
        count += 1
        rest = inflater.unused_data
    return count


def check_manifest(manifest):
    problems = []
    for field in ("transactionTime", "request", "requiresAccessToken", "output", "error"):
        if field not in manifest:
            problems.append(f"manifest lacks {field}")
    for entry in manifest.get("output", []):
        if not entry.get("type") or not entry.get("url"):
            problems.append(f"manifest output entry without type or url: {entry}")
    return problems


def parse_expect(text):
    expected = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, number = item.partition("=")
        expected[name.strip()] = int(number)
    return expected


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fhir-url", required=True, help="FHIR base, e.g. http://127.0.0.1:8080/fhir")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--private-key", required=True, help="PEM private key (RSA ≥ 2048 bits or EC P-384)")
    parser.add_argument("--kid", required=True, help="kid of the registered public key")
    parser.add_argument("--scope", default="system/*.rs")
    parser.add_argument("--type", default="", help="_type (comma-separated); default: everything allowed")
    parser.add_argument("--out", help="directory for the NDJSON files (required unless --token-only)")
    parser.add_argument("--expect", default="", help="Type=count,… the exact counts to find")
    parser.add_argument("--timeout", type=int, default=900, help="seconds to wait for the export")
    parser.add_argument("--token-only", action="store_true",
                        help="discover, get a token with the client assertion, print the access token and stop")
    parser.add_argument("--strict-discovery", action="store_true",
                        help="fail if [base]/.well-known/smart-configuration does not answer (no fallback to the origin)")
    args = parser.parse_args()

    started = time.time()
    try:
        client = Client(args)
        client.discover()
        client.authorize()
        if args.token_only:
            print(client.token)
            return 0
        if not args.out:
            raise Failure("--out is required")
        kicked = time.time()
        location = client.kick_off(args.type)
        manifest = client.wait(location, args.timeout)
        ready = time.time()
        problems = check_manifest(manifest)
        requires_token = manifest.get("requiresAccessToken", True)
        log(f"manifest: transactionTime {manifest.get('transactionTime')}, requiresAccessToken {requires_token}, "
            f"{len(manifest.get('output', []))} output, {len(manifest.get('error', []))} error, {len(manifest.get('deleted', []))} deleted file(s)")

        os.makedirs(args.out, exist_ok=True)
        counts, ids, sizes, files_per_type = {}, {}, 0, {}
        for entry in manifest.get("output", []):
            kind = entry["type"]
            files_per_type[kind] = files_per_type.get(kind, 0) + 1
            path = os.path.join(args.out, f"{kind}.{files_per_type[kind]:03}.ndjson")
            body = client.download(entry["url"], requires_token, path)
            sizes += len(body)
            lines = [line for line in body.decode("utf-8").split("\n") if line.strip()]
            for number, line in enumerate(lines, 1):
                try:
                    resource = json.loads(line)
                except ValueError:
                    problems.append(f"{path}:{number}: not JSON")
                    continue
                if resource.get("resourceType") != kind:
                    problems.append(f"{path}:{number}: resourceType {resource.get('resourceType')} in a {kind} file")
                seen = ids.setdefault(kind, set())
                if resource.get("id") in seen:
                    problems.append(f"{path}:{number}: {kind}/{resource.get('id')} appears twice")
                seen.add(resource.get("id"))
            counts[kind] = counts.get(kind, 0) + len(lines)
            if "count" in entry and entry["count"] != len(lines):
                problems.append(f"{entry['url']}: manifest count {entry['count']} but {len(lines)} lines")
        for entry in manifest.get("error", []):
            path = os.path.join(args.out, "error", f"{entry.get('type', 'OperationOutcome')}.ndjson")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            body = client.download(entry["url"], requires_token, path)
            for line in filter(None, body.decode("utf-8").split("\n")):
                problems.append("server error file: " + describe(200, line.encode()))
        downloaded = time.time()
        client.delete(location)

        for note in client.notes:
            print(f"  note: {note}")
        summary = ", ".join(f"{kind} {counts[kind]}" for kind in sorted(counts))
        print(f"exported: {summary} ({sum(counts.values())} resources, {sizes} bytes)")
        expected = parse_expect(args.expect)
        if expected:
            for kind in sorted(set(expected) | set(counts)):
                if counts.get(kind, 0) != expected.get(kind, 0):
                    problems.append(f"{kind}: expected {expected.get(kind, 0)}, got {counts.get(kind, 0)}")
        timing = (f"token {kicked - started:.1f} s, export {ready - kicked:.1f} s, "
                  f"download {downloaded - ready:.1f} s, total {downloaded - started:.1f} s")
        if problems:
            for problem in problems:
                print(f"  problem: {problem}")
            print(f"FAIL bulk-export-client: {len(problems)} problem(s); {timing}")
            return 1
        print(f"PASS bulk-export-client: {len(counts)} types, {sum(counts.values())} resources, counts as expected; {timing}")
        return 0
    except Failure as failure:
        print(f"FAIL bulk-export-client: {failure}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
