#!/usr/bin/env python3
"""Scale the Synthea fixtures up to N resources, deterministically, for search benchmarks.

Why: issue 6 asks how the FHIR search behaves at scale. The 34 Synthea bundles in
the fixtures hold only ~5.5K resources, so we clone them (with fresh ids, names,
identifiers and dates) until there are ~10K and ~1M resources, load each data set
into the server, run the same search mix against both, and compare the latency
percentiles (the p50 and p99 ratio 1M/10K; ideally close to 1, i.e. index-bound,
not scan-bound). Clones must not be exact copies, otherwise name/identifier/date
searches would match thousands of identical rows and the selectivity would be
unrealistic; they must also stay referentially intact, so that chained and
_include/_revinclude searches still work.

Usage:
    python3 scripts/scale-synthea.py [--resources N] [--seed S] [--out DIR]
                                     [--format bundles|ndjson] [--fixtures DIR]
    python3 scripts/scale-synthea.py --check [N] --out DIR     # validate output

    --resources N   stop once about N resources were written (default 1,000,000;
                    use 10000 for the small data set). Whole clones are written,
                    so the total overshoots N by less than one bundle (~1.5K).
    --seed S        seed (default 1); the same seed and inputs give byte-identical
                    output.
    --out DIR       output directory (default ./scaled-synthea); created if needed.
    --format        `bundles`: one FHIR transaction Bundle per clone,
                    DIR/clone-000000.json ... (POST them to the server's base URL).
                    `ndjson`: one DIR/<ResourceType>.ndjson per type, resources with
                    their new ids and `Type/id` references (bulk-import style).
    --fixtures DIR  fixtures root holding synthea/*.json (default $MEDREC_FIXTURES,
                    else ../shared/fixtures relative to the repository root).
    --check [N]     instead of generating, validate the first N clones (default 50)
                    already written in --out (either format): every reference
                    target exists in its clone, no id / fullUrl is duplicated
                    across clones, no Patient identifier is duplicated (warning),
                    and all dates parse.
    --today DATE    latest allowed date (default 2025-01-01, fixed for determinism):
                    the per-clone shift is limited so no date lands after it.

What each clone (index i, template = bundle i mod 34) rewrites:
  * every `urn:uuid:` fullUrl, every reference to it, and the resource ids, to
    uuid5(seed:i:old-uuid) — consistent inside the clone, so references resolve;
  * conditional references / ifNoneExist (`Type?identifier=sys|value`) and all
    `identifier[].value`s (Patient MRN/SSN/driver's licence/passport, Practitioner
    NPI, Organization and EOB ids) to fresh deterministic values of the same
    shape (uuid-shaped values via the uuid5 above, short values to 10 digits);
  * Patient/Practitioner `name[].family`/`given` (and `text`, the mother's maiden
    name extension) to picks from built-in lists of ~200 family names (with
    "Sch..." names and accents, e.g. Müller, Schäfer) and ~200 given names;
  * every date/dateTime/instant (incl. Period start/end and birthDate) shifted by a
    per-clone whole-day offset in [-3650, +3650] (capped so that nothing goes past
    --today), keeping the precision and the time/offset suffix verbatim.
Clones are also tagged meta.tag {system: urn:medrec:scale, code: clone-NNNNNN} so a
scaled data set can be found (and deleted) with `_tag=urn:medrec:scale|clone-...`.

Python 3 standard library only; output is streamed (one clone in memory at a time).
"""

import argparse
import datetime as dt
import glob
import hashlib
import json
import os
import random
import re
import sys
import time
import uuid

FAMILY_NAMES = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson
White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott
Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell
Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes
Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson
Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James
Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross
Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson
Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton
Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis
Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez
McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman
Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason
Dixon Muñoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar
Müller Schmidt Schneider Fischer Weber Meyer Schulz Becker Schäfer Koch Bauer Richter
Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange
Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König
Walter Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert
Vogel Friedrich Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke
Albrecht Schuster Simon Ludwig Böhm Winter Kraus Schumacher Krämer Vogt Stein Jäger
Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler
Kuhn Kühn Pohl Engel Horn Busch Bergmann Voigt Sauer Arnold Wolff Pfeiffer
Dubois Lefèvre Girard Rousseau Bénard Mercier Lemaître Béranger Núñez Peña Ibáñez
Gómez Sánchez Martín Jiménez Díaz Álvarez Søndergaard Ødegård Åberg Nowak Dvořák
""".split()

GIVEN_MALE = """
James John Robert Michael William David Richard Joseph Thomas Charles Christopher
Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George
Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen
Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond
Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry Douglas Zachary Peter Kyle Noah
Ethan Jeremy Walter Christian Keith Roger Terry Austin Sean Gerald Carl Harold Dylan
Arthur Lawrence Jordan Jesse Bryan Billy Bruce Gabriel Joe Logan Alan Juan Albert
Willie Elijah Wayne Randy Vincent Mason Roy Ralph Bobby Russell Bradley Philip Eugene
Jürgen Klaus Günter Jörg René José Andrés Søren Björn
""".split()

GIVEN_FEMALE = """
Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy
Betty Sandra Margaret Ashley Kimberly Emily Donna Michelle Carol Amanda Melissa
Deborah Stephanie Dorothy Rebecca Sharon Laura Cynthia Amy Kathleen Angela Shirley
Brenda Emma Anna Pamela Nicole Samantha Katherine Christine Helen Debra Rachel Carolyn
Janet Maria Catherine Heather Diane Olivia Julie Joyce Victoria Ruth Virginia Lauren
Kelly Christina Joan Evelyn Judith Andrea Hannah Megan Cheryl Jacqueline Martha
Madison Teresa Gloria Sara Janice Ann Kathryn Abigail Sophia Frances Jean Alice Judy
Isabella Julia Grace Amber Denise Danielle Marilyn Beverly Charlotte Natalie Theresa
Diana Brittany Doris Kayla Alexis Lori Marie Renée Zoë Chloé Inès Sünje Anaïs
""".split()

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# FHIR date / dateTime / instant (date part is at most YYYY-MM-DD; the rest is kept)
DATE_RE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)?$")
# keys whose string values are never dates, even if they look like one
NON_DATE_KEYS = frozenset(
    "code value postalCode id reference url system div display text line".split())
SCALE_TAG_SYSTEM = "urn:medrec:scale"
NS = uuid.UUID("6f1c3c1e-5a0e-4f57-9b43-2b8d1d0c5e11")  # namespace for uuid5


def is_date_key(key):
    return key in ("start", "end", "birthDate", "issued", "created", "recorded",
                   "authoredOn", "lastUpdated", "date", "started", "instant") or \
        key.endswith(("Date", "DateTime", "Instant", "Time"))


def parse_date(s, key):
    """Return (date, precision, suffix) if `s` is a FHIR date-ish value, else None."""
    if len(s) < 4 or not s[:4].isdigit():
        return None
    if len(s) < 10 and not is_date_key(key):
        return None  # "1234" / "1234-56" are only dates in date-typed elements
    m = DATE_RE.match(s)
    if not m:
        return None
    y, mo, d, rest = m.group(1), m.group(2), m.group(3), m.group(4)
    try:
        return dt.date(int(y), int(mo or 1), int(d or 1)), (3 if d else 2 if mo else 1), rest or ""
    except ValueError:
        return None


def fmt_date(d, precision, suffix):
    if precision == 1:
        return "%04d" % d.year
    if precision == 2:
        return "%04d-%02d" % (d.year, d.month)
    return "%04d-%02d-%02d%s" % (d.year, d.month, d.day, suffix)


def iter_strings(x, key=""):
    """Yield (key, string) for every string value in a JSON tree."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from iter_strings(v, k)
    elif isinstance(x, list):
        for v in x:
            yield from iter_strings(v, key)
    elif isinstance(x, str):
        yield key, x


class Template:
    """One fixture bundle, parsed once, with what every clone needs."""

    def __init__(self, path, today):
        with open(path, encoding="utf-8") as f:
            self.bundle = json.load(f)
        self.name = os.path.basename(path)
        self.entries = self.bundle.get("entry", [])
        self.types = {}  # old uuid -> resource type
        for e in self.entries:
            fu = e.get("fullUrl", "")
            if fu.startswith("urn:uuid:"):
                self.types[fu[9:]] = e["resource"]["resourceType"]
        latest = dt.date(1, 1, 1)
        for k, s in iter_strings([e["resource"] for e in self.entries]):
            if k not in NON_DATE_KEYS:
                p = parse_date(s, k)
                if p and p[0] > latest:
                    latest = p[0]
        self.max_forward = max(0, (today - latest).days)  # largest allowed positive shift
        # Every clone changes the same leaves, so find them once: a plan of
        # (path, kind, data) ops applied to a fresh json.loads() copy per clone.
        self.text = json.dumps(self.entries)
        self.plan = []
        for i, e in enumerate(self.entries):
            for k, v in e.items():
                if k == "fullUrl" and isinstance(v, str):
                    self.plan.append(((i, k), "urn", None))
                elif k == "request" and isinstance(v, dict):
                    for rk in ("url", "ifNoneExist"):
                        if "?" in str(v.get(rk, "")):
                            self.plan.append(((i, k, rk), "cond", None))
                elif k == "resource":
                    self._plan(v, (i, k), "")

    def _plan(self, x, path, key):
        if isinstance(x, dict):
            for k, v in x.items():
                p = path + (k,)
                if k == "identifier":
                    for j, ident in (enumerate(v) if isinstance(v, list) else [(None, v)]):
                        ip = p if j is None else p + (j,)
                        if isinstance(ident, dict):
                            self._plan(ident, ip, "identifier")
                            if isinstance(ident.get("value"), str):
                                self.plan.append((ip + ("value",), "ident", None))
                elif k == "id" and isinstance(v, str) and v in self.types:
                    self.plan.append((p, "id", None))
                elif k == "reference" and isinstance(v, str):
                    self.plan.append((p, "ref", None))
                else:
                    self._plan(v, p, k)
        elif isinstance(x, list):
            for j, v in enumerate(x):
                self._plan(v, path + (j,), key)
        elif isinstance(x, str) and key not in NON_DATE_KEYS:
            d = parse_date(x, key)
            if d is not None:
                self.plan.append((path, "date", d + (key == "birthDate",)))


class Cloner:
    def __init__(self, seed, today, ndjson):
        self.seed = seed
        self.today = today
        self.ndjson = ndjson

    def clone(self, tpl, index):
        """Return the list of (entry) dicts of clone `index` built from `tpl`."""
        self.index = index
        self.tpl = tpl
        self.prefix = "%d:%d:" % (self.seed, index)
        self.rng = random.Random("scale-synthea:%s" % self.prefix)
        offset = self.rng.randint(-3650, 3650)
        self.offset = dt.timedelta(days=min(offset, tpl.max_forward))
        self.uuids = {}
        self.idents = {}
        self.tag = {"system": SCALE_TAG_SYSTEM, "code": "clone-%06d" % index}
        entries = json.loads(tpl.text)
        offset, today = self.offset, self.today
        for path, kind, data in tpl.plan:
            parent = entries
            for step in path[:-1]:
                parent = parent[step]
            last = path[-1]
            if kind == "date":
                d = data[0] + offset
                if data[3] and d > today:
                    d = today
                parent[last] = fmt_date(d, data[1], data[2])
            elif kind == "ref":
                parent[last] = self.map_reference(parent[last])
            elif kind == "id":
                parent[last] = self.new_uuid(parent[last])
            elif kind == "ident":
                parent[last] = self.map_ident(parent[last])
            elif kind == "urn":
                parent[last] = self.map_urn(parent[last])
            else:  # "cond"
                parent[last] = self.map_conditional(parent[last])
        for e in entries:
            res = e["resource"]
            if res["resourceType"] in ("Patient", "Practitioner"):
                self.rename(res)
            meta = res.setdefault("meta", {})
            meta["tag"] = meta.get("tag", []) + [self.tag]
        return entries

    # -- ids / identifiers ---------------------------------------------------
    def new_uuid(self, old):
        u = self.uuids.get(old)
        if u is None:
            u = self.uuids[old] = str(uuid.uuid5(NS, self.prefix + old))
        return u

    def map_urn(self, s):
        if s.startswith("urn:uuid:"):
            return "urn:uuid:" + self.new_uuid(s[9:])
        return s

    def map_reference(self, s):
        if s.startswith("urn:uuid:"):
            old = s[9:]
            if self.ndjson and old in self.tpl.types:
                return "%s/%s" % (self.tpl.types[old], self.new_uuid(old))
            return "urn:uuid:" + self.new_uuid(old)
        if "?" in s:
            return self.map_conditional(s)
        return s

    def map_conditional(self, s):
        """Type?identifier=sys|value&x=y: rewrite identifier-ish values."""
        if "?" not in s:
            return s
        base, query = s.split("?", 1)
        parts = []
        for p in query.split("&"):
            k, eq, v = p.partition("=")
            if eq and (k in ("identifier", "_id") or k.endswith(":identifier")):
                sys_, bar, val = v.rpartition("|")
                v = sys_ + bar + self.map_ident(val)
            parts.append(k + eq + v)
        return base + "?" + "&".join(parts)

    def map_ident(self, old):
        new = self.idents.get(old)
        if new is not None:
            return new
        if UUID_RE.match(old):
            new = self.new_uuid(old)
        else:
            h = hashlib.blake2b((self.prefix + old).encode(), digest_size=32).digest()
            alnum = sum(c.isalnum() for c in old)
            if alnum < 8:  # e.g. NPI "200": far too small a space for 1M resources
                new = "%010d" % (int.from_bytes(h[:8], "big") % 10 ** 10)
            else:
                chars, i = [], 0
                for c in old:
                    b = h[i % len(h)]
                    if c.isdigit():
                        # keep Synthea's fake "9xx" SSN / "S999..." licence lead digit
                        c = c if (i == 0 or (i == 1 and not old[0].isdigit())) and c == "9" \
                            else str(b % 10)
                        i += 1
                    elif c.isalpha() and c.isascii():
                        base = "A" if c.isupper() else "a"
                        c = c if i == 0 else chr(ord(base) + b % 26)
                        i += 1
                    chars.append(c)
                new = "".join(chars)
        self.idents[old] = new
        return new

    # -- names ----------------------------------------------------------------
    def pick_given(self, gender):
        pool = GIVEN_FEMALE if gender == "female" else GIVEN_MALE if gender == "male" \
            else (GIVEN_FEMALE if self.rng.random() < 0.5 else GIVEN_MALE)
        return self.rng.choice(pool)

    def rename(self, res):
        gender = res.get("gender")
        given_map, first_full = {}, None
        for name in res.get("name", []) or []:
            if "given" in name:
                # the maiden name repeats the given names: keep them consistent
                name["given"] = [given_map.setdefault(g, self.pick_given(gender))
                                 for g in name["given"]]
            if "family" in name:
                name["family"] = self.rng.choice(FAMILY_NAMES)
            full = " ".join(name.get("given", []) + ([name["family"]] if "family" in name else []))
            if "text" in name:
                name["text"] = " ".join(name.get("prefix", []) + [full])
            first_full = first_full or full
        for ext in res.get("extension", []) or []:
            if ext.get("url", "").endswith("patient-mothersMaidenName") and "valueString" in ext:
                ext["valueString"] = "%s %s" % (self.rng.choice(GIVEN_FEMALE),
                                                self.rng.choice(FAMILY_NAMES))


def default_fixtures():
    env = os.environ.get("MEDREC_FIXTURES")
    if env:
        return env
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(repo, "..", "shared", "fixtures")


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def generate(args):
    paths = sorted(glob.glob(os.path.join(args.fixtures, "synthea", "*.json")))
    if not paths:
        sys.exit("no bundles in %s/synthea" % args.fixtures)
    templates = [Template(p, args.today) for p in paths]
    os.makedirs(args.out, exist_ok=True)
    ndjson = args.format == "ndjson"
    cloner = Cloner(args.seed, args.today, ndjson)
    files = {}
    counts = {}
    total = clones = 0
    t0 = last = time.monotonic()
    try:
        while total < args.resources:
            tpl = templates[clones % len(templates)]
            entries = cloner.clone(tpl, clones)
            if ndjson:
                for e in entries:
                    r = e["resource"]
                    t = r["resourceType"]
                    f = files.get(t)
                    if f is None:
                        f = files[t] = open(os.path.join(args.out, t + ".ndjson"), "w",
                                            encoding="utf-8")
                    f.write(dumps(r))
                    f.write("\n")
            else:
                bundle = {k: v for k, v in tpl.bundle.items() if k != "entry"}
                bundle["entry"] = entries
                with open(os.path.join(args.out, "clone-%06d.json" % clones), "w",
                          encoding="utf-8") as f:
                    f.write(dumps(bundle))
            for e in entries:
                t = e["resource"]["resourceType"]
                counts[t] = counts.get(t, 0) + 1
            total += len(entries)
            clones += 1
            now = time.monotonic()
            if now - last >= 2:
                last = now
                print("  %d clones, %d resources, %.0f resources/s"
                      % (clones, total, total / (now - t0)), file=sys.stderr)
    finally:
        for f in files.values():
            f.close()
    secs = time.monotonic() - t0
    print("wrote %d clones, %d resources (%s) to %s in %.1fs (%.0f resources/s)"
          % (clones, total, args.format, args.out, secs, total / max(secs, 1e-9)),
          file=sys.stderr)
    for t in sorted(counts, key=lambda t: (-counts[t], t)):
        print("  %-22s %9d" % (t, counts[t]), file=sys.stderr)


def check(args):
    limit = args.check
    out = args.out
    bundle_paths = sorted(glob.glob(os.path.join(out, "clone-*.json")))
    ndjson_paths = sorted(glob.glob(os.path.join(out, "*.ndjson")))
    if not bundle_paths and not ndjson_paths:
        sys.exit("--check: nothing to check in %s" % out)
    errors, warnings = [], []
    seen_ids = {}      # "Type/id" or fullUrl -> clone
    seen_idents = {}   # (system, value) of Patients -> clone
    dates = refs = resources = 0
    clones = {}        # clone code -> (set of targets, list of references)

    def err(msg):
        if len(errors) < 50:
            errors.append(msg)

    def visit(resource, clone, fullurl, targets, references):
        nonlocal dates, resources
        resources += 1
        key = "%s/%s" % (resource["resourceType"], resource.get("id"))
        for k in ([fullurl] if fullurl else []) + [key]:
            if k in seen_ids:
                err("duplicate %s (clones %s and %s)" % (k, seen_ids[k], clone))
            seen_ids[k] = clone
            targets.add(k)
        if resource["resourceType"] == "Patient":
            for i in resource.get("identifier", []):
                ik = (i.get("system"), i.get("value"))
                if ik in seen_idents and seen_idents[ik] != clone:
                    warnings.append("Patient identifier %s|%s in clones %s and %s"
                                    % (ik + (seen_idents[ik], clone)))
                seen_idents[ik] = clone
        stack = [(resource, "")]
        while stack:
            x, key = stack.pop()
            if isinstance(x, dict):
                for k, v in x.items():
                    if k == "reference" and isinstance(v, str):
                        if not v.startswith("#"):
                            references.append(v)
                    elif k not in NON_DATE_KEYS or isinstance(v, (dict, list)):
                        stack.append((v, k))
            elif isinstance(x, list):
                stack.extend((v, key) for v in x)
            elif isinstance(x, str) and x[:4].isdigit() and (len(x) >= 10 or is_date_key(key)):
                looks = len(x) >= 10 and x[4:5] == "-" and x[7:8] == "-"
                if looks or is_date_key(key):
                    dates += 1
                    p = parse_date(x, key)
                    if p is None:
                        err("unparseable date %s=%r in %s/%s"
                            % (key, x, resource["resourceType"], resource.get("id")))
                    elif p[2][:1] == "T":
                        try:
                            dt.datetime.fromisoformat(x.replace("Z", "+00:00"))
                        except ValueError:
                            err("unparseable dateTime %r" % x)
                    elif key == "birthDate" and p[0] > args.today:
                        err("birthDate in the future: %r" % x)

    def clone_of(resource):
        for t in resource.get("meta", {}).get("tag", []):
            if t.get("system") == SCALE_TAG_SYSTEM:
                return t.get("code")
        return None

    if bundle_paths:
        for path in bundle_paths[:limit]:
            with open(path, encoding="utf-8") as f:
                b = json.load(f)
            targets, references = set(), []
            for e in b.get("entry", []):
                visit(e["resource"], os.path.basename(path), e.get("fullUrl"), targets,
                      references)
            clones[path] = (targets, references)
    else:
        wanted = {"clone-%06d" % i for i in range(limit)}
        for path in ndjson_paths:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    r = json.loads(line)
                    c = clone_of(r)
                    if c not in wanted:
                        continue
                    targets, references = clones.setdefault(c, (set(), []))
                    visit(r, c, None, targets, references)
    for c, (targets, references) in clones.items():
        for ref in references:
            refs += 1
            if ref not in targets:
                err("%s: dangling reference %s" % (c, ref))
    print("checked %d clones, %d resources, %d references, %d dates: %d errors, %d warnings"
          % (len(clones), resources, refs, dates, len(errors), len(warnings)), file=sys.stderr)
    for m in errors:
        print("  ERROR " + m, file=sys.stderr)
    for m in warnings[:10]:
        print("  WARNING " + m, file=sys.stderr)
    return 1 if errors else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=default_fixtures())
    ap.add_argument("--resources", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="scaled-synthea")
    ap.add_argument("--format", choices=("bundles", "ndjson"), default="bundles")
    ap.add_argument("--check", type=int, nargs="?", const=50, default=None, metavar="N")
    ap.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1))
    args = ap.parse_args()
    if args.check is not None:
        sys.exit(check(args))
    generate(args)


if __name__ == "__main__":
    main()
