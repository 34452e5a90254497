#!/usr/bin/env python3
"""Search benchmark helper (issue 6, "Performance"): loads scaled Synthea clones, runs the
fixed query set, and compares the latency at a small and a large data set.

Driven by scripts/bench-search.sh, which builds the server, starts it on its embedded cluster
and generates the data with scripts/scale-synthea.py; this helper does the HTTP work:

    load     POST clone transaction Bundles (DIR/clone-NNNNNN.json, in order) with several
             parallel clients until at least --upto resources are loaded; resumes where the
             last load stopped (--state), so the small data set is a prefix of the large one.
    sample   pick the query values from the clones loaded so far (read from the generated
             files, not from the server, so they do not depend on the search engine under test).
    queries  run every query of the fixed set --iterations times, sequentially on one
             keep-alive connection after a few warm-up requests, and write the latencies.
    report   the table: p50/p99 at both sizes, the p50 ratio large/small, the goals.

The system client's credentials come from MEDREC_BENCH_CLIENT_ID and MEDREC_BENCH_CLIENT_SECRET
(not arguments, so they do not show in `ps`). Tokens are fetched with client credentials and
refreshed before they expire (they last 15 minutes). Standard library only.
"""

import argparse
import base64
import glob
import http.client
import json
import os
import queue
import statistics
import sys
import threading
import time
import urllib.parse

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
MRN_SYSTEM = "http://hospital.smarthealthit.org"
TOKEN_MAX_AGE = 600  # seconds; tokens last 900


# -- HTTP ---------------------------------------------------------------------------------------

class Tokens:
    """A system token from client credentials, shared by threads and renewed before it expires."""

    def __init__(self, base):
        self.base = urllib.parse.urlsplit(base)
        client_id = os.environ.get("MEDREC_BENCH_CLIENT_ID")
        secret = os.environ.get("MEDREC_BENCH_CLIENT_SECRET")
        if not client_id or not secret:
            sys.exit("MEDREC_BENCH_CLIENT_ID and MEDREC_BENCH_CLIENT_SECRET must be set")
        self.basic = base64.b64encode(("%s:%s" % (client_id, secret)).encode()).decode()
        self.lock = threading.Lock()
        self.token = None
        self.fetched = 0.0

    def get(self, force=False):
        with self.lock:
            if force or self.token is None or time.monotonic() - self.fetched > TOKEN_MAX_AGE:
                conn = http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=60)
                try:
                    conn.request("POST", "/auth/token", body="grant_type=client_credentials",
                                 headers={"Authorization": "Basic " + self.basic,
                                          "Content-Type": "application/x-www-form-urlencoded"})
                    resp = conn.getresponse()
                    body = resp.read()
                finally:
                    conn.close()
                if resp.status != 200:
                    sys.exit("token request failed: HTTP %d" % resp.status)
                self.token = json.loads(body)["access_token"]
                self.fetched = time.monotonic()
            return self.token


class Client:
    """One keep-alive connection. `request` returns (status, body bytes, seconds)."""

    def __init__(self, base, tokens, headers=None):
        self.url = urllib.parse.urlsplit(base)
        self.tokens = tokens
        self.headers = headers or {}
        self.conn = None
        self.reconnects = 0

    def _connect(self):
        if self.conn is not None:
            self.conn.close()
            self.reconnects += 1
        self.conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=300)

    def request(self, method, path, body=None, headers=None):
        if self.conn is None:
            self._connect()
            self.reconnects = 0
        for attempt in range(3):
            h = dict(self.headers)
            h.update(headers or {})
            h["Authorization"] = "Bearer " + self.tokens.get(force=attempt > 0 and last == 401)
            try:
                start = time.perf_counter()
                self.conn.request(method, path, body=body, headers=h)
                resp = self.conn.getresponse()
                data = resp.read()
                elapsed = time.perf_counter() - start
            except (http.client.HTTPException, ConnectionError, OSError):
                # The server closed the kept-alive connection: reconnect and retry, untimed.
                last = None
                self._connect()
                continue
            if resp.getheader("Connection", "").lower() == "close":
                self._connect()
            last = resp.status
            if resp.status == 401 and attempt == 0:
                continue  # the token expired under us: fetch a new one and retry once
            return resp.status, data, elapsed
        raise RuntimeError("%s %s: no response after retries" % (method, path[:80]))


def diagnostics(body):
    """The OperationOutcome's diagnostics (or the start of the body), for failure reports."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body[:300].decode("utf-8", "replace")
    if isinstance(doc, dict) and doc.get("resourceType") == "OperationOutcome":
        return "; ".join("%s: %s%s" % (i.get("code"), i.get("diagnostics") or
                                       (i.get("details") or {}).get("text", ""),
                                       " @ " + ",".join(i["expression"]) if i.get("expression") else "")
                         for i in doc.get("issue", []))
    return json.dumps(doc)[:300]


def path_of(url):
    """Path and query of an absolute `next` link."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def patient_ids(body):
    """Server ids of the Patients a transaction created, in entry order: the server assigns new ids
    on POST, so the ids in the generated files are not the ones to query."""
    try:
        entries = json.loads(body).get("entry", [])
    except (ValueError, AttributeError):
        return []
    return [loc.split("/")[1] for loc in ((e.get("response") or {}).get("location", "") for e in entries)
            if loc.startswith("Patient/")]


# -- load ---------------------------------------------------------------------------------------

def cmd_load(args):
    state = {"next_clone": 0, "resources": 0, "seconds": 0.0}
    if os.path.exists(args.state):
        with open(args.state) as f:
            state = json.load(f)
    files = sorted(glob.glob(os.path.join(args.gen, "clone-*.json")))
    if state["resources"] >= args.upto:
        print("load: %d resources already loaded" % state["resources"], file=sys.stderr)
        return 0
    tokens = Tokens(args.base)
    work = queue.Queue(maxsize=args.clients * 4)
    errors = []
    done = {"resources": 0, "bundles": 0}
    patients = state.setdefault("patients", {})  # clone file -> server ids of its Patients, in order
    lock = threading.Lock()

    def worker():
        client = Client(args.base, tokens, {"Content-Type": "application/fhir+json",
                                            "Prefer": "return=minimal"})
        while True:
            item = work.get()
            if item is None:
                return
            name, data, n = item
            if errors:
                continue  # drain after a failure
            try:
                status, body, _ = client.request("POST", "/fhir", body=data)
            except Exception as e:  # noqa: BLE001 - reported below
                status, body = 0, str(e).encode()
            with lock:
                if status != 200:
                    errors.append("%s: HTTP %d %s" % (name, status, diagnostics(body)))
                else:
                    done["resources"] += n
                    done["bundles"] += 1
                    patients[name] = patient_ids(body)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.clients)]
    for t in threads:
        t.start()
    index = state["next_clone"]
    queued = state["resources"]
    start = last = time.monotonic()
    while queued < args.upto and not errors:
        if index >= len(files):
            errors.append("only %d clones in %s: generate more (--resources)" % (len(files), args.gen))
            break
        with open(files[index], "rb") as f:
            data = f.read()
        n = data.count(b'"fullUrl":')
        work.put((os.path.basename(files[index]), data, n))
        queued += n
        index += 1
        now = time.monotonic()
        if now - last >= 30:
            last = now
            with lock:
                r = done["resources"]
            print("  load: %d resources in %.0fs (%.0f/s)" % (state["resources"] + r, now - start,
                                                               r / (now - start)), file=sys.stderr)
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    if errors:
        print("load FAILED (%d errors); first:" % len(errors), file=sys.stderr)
        for e in errors[:5]:
            print("  " + e, file=sys.stderr)
        return 1
    rate = done["resources"] / seconds if seconds > 0 else 0
    state.setdefault("phases", []).append({"resources": done["resources"], "bundles": done["bundles"],
                                           "seconds": round(seconds, 2), "rate": round(rate),
                                           "clients": args.clients})
    state["next_clone"] = index
    state["resources"] += done["resources"]
    state["seconds"] += seconds
    with open(args.state, "w") as f:
        json.dump(state, f, indent=1)
    print("load: %d resources in %d bundles, %.1fs, %.0f resources/s (%d clients); %d loaded in all"
          % (done["resources"], done["bundles"], seconds, rate, args.clients, state["resources"]),
          file=sys.stderr)
    return 0


# -- sample -------------------------------------------------------------------------------------

def codes(concept, system):
    return [c.get("code") for c in (concept or {}).get("coding", []) if c.get("system") == system and c.get("code")]


def spread(items, n):
    """n items evenly spread over a sorted list (all of them if there are fewer)."""
    if len(items) <= n:
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)] if n > 1 else items[:1]


def month_window(date):
    """`YYYY-MM` -> (first day, first day of the next month)."""
    y, m = int(date[:4]), int(date[5:7])
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
    return "%04d-%02d-01" % (y, m), "%04d-%02d-01" % (ny, nm)


def cmd_sample(args):
    with open(args.state) as f:
        state = json.load(f)
    files = sorted(glob.glob(os.path.join(args.gen, "clone-*.json")))[:state["next_clone"]]
    patients = {}          # id -> facts
    obs_by_code = {}       # loinc code -> count
    obs_months = {}        # loinc code -> set of YYYY-MM
    cond_codes = {}        # snomed code -> count
    for path in files:
        with open(path, encoding="utf-8") as f:
            bundle = json.load(f)
        server_ids = iter(state.get("patients", {}).get(os.path.basename(path), []))
        ids = {}
        for e in bundle["entry"]:
            r = e["resource"]
            if r["resourceType"] == "Patient":
                r["id"] = next(server_ids, None)
                if r["id"] is None:
                    sys.exit("sample: no server id for a Patient of %s" % path)
            ids[e["fullUrl"]] = r.get("id")
        for e in bundle["entry"]:
            r = e["resource"]
            t = r["resourceType"]
            if t == "Patient":
                ident = next((i for i in r.get("identifier", []) if i.get("system") == MRN_SYSTEM), None) \
                    or next((i for i in r.get("identifier", []) if i.get("system") and i.get("value")), None)
                family = next((n["family"] for n in r.get("name", []) if n.get("family")), None)
                patients[r["id"]] = {"id": r["id"], "identifier": ident and [ident["system"], ident["value"]],
                                     "family": family, "birthDate": r.get("birthDate"), "observations": 0,
                                     "codes": {}, "activeMedicationRequests": 0, "encounters": 0}
        for e in bundle["entry"]:
            r = e["resource"]
            t = r["resourceType"]
            ref = ((r.get("subject") or r.get("patient") or {}).get("reference") or "")
            pid = ids.get(ref) or (ref.split("/", 1)[1] if ref.startswith("Patient/") else None)
            p = patients.get(pid)
            if t == "Observation":
                for c in codes(r.get("code"), LOINC):
                    obs_by_code[c] = obs_by_code.get(c, 0) + 1
                    when = r.get("effectiveDateTime") or (r.get("effectivePeriod") or {}).get("start")
                    if when:
                        obs_months.setdefault(c, set()).add(when[:7])
                    if p:
                        p["codes"][c] = p["codes"].get(c, 0) + 1
                if p:
                    p["observations"] += 1
            elif t == "Condition":
                for c in codes(r.get("code"), SNOMED):
                    cond_codes[c] = cond_codes.get(c, 0) + 1
            elif t == "MedicationRequest" and p and r.get("status") == "active":
                p["activeMedicationRequests"] += 1
            elif t == "Encounter" and p:
                p["encounters"] += 1
    if not patients:
        sys.exit("sample: no patients in the loaded clones")
    n = args.size
    # Patients "with many observations": spread over those with at least the median count.
    ranked = sorted(patients.values(), key=lambda p: (p["observations"], p["id"]))
    median = statistics.median(p["observations"] for p in ranked)
    many = [p for p in ranked if p["observations"] >= median]
    chosen = spread(many, n)
    with_meds = [p for p in ranked if p["activeMedicationRequests"] > 0]
    meds = spread(with_meds, n) or chosen
    common = sorted(obs_by_code, key=lambda c: (-obs_by_code[c], c))
    top = common[0]
    months = spread(sorted(m for m in obs_months.get(top, ()) if len(m) == 7), n)
    conditions = sorted(cond_codes, key=lambda c: (-cond_codes[c], c))[:n]

    def q(value):
        return urllib.parse.quote(value, safe="")

    def patient_code(p):
        return max(p["codes"], key=lambda c: (p["codes"][c], c)) if p["codes"] else top

    queries = [
        {"name": "Patient by name", "paths": [
            "/fhir/Patient?name=%s" % q(p["family"][:args.name_prefix]) for p in chosen if p["family"]]},
        {"name": "Patient by identifier", "paths": [
            "/fhir/Patient?identifier=%s" % q("%s|%s" % tuple(p["identifier"])) for p in chosen if p["identifier"]]},
        {"name": "Patient by birthdate range", "paths": [
            "/fhir/Patient?birthdate=ge%s&birthdate=lt%s" % month_window(p["birthDate"])
            for p in chosen if p["birthDate"]]},
        {"name": "Observation by code+patient", "paths": [
            "/fhir/Observation?code=%s&patient=%s" % (q(LOINC + "|" + patient_code(p)), p["id"]) for p in chosen]},
        {"name": "Observation by code+date", "paths": [
            "/fhir/Observation?code=%s&date=ge%s&date=lt%s" % ((q(LOINC + "|" + top),) + month_window(m))
            for m in months]},
        {"name": "Encounter by patient+date sort", "paths": [
            "/fhir/Encounter?patient=%s&date=ge2010&_sort=-date" % p["id"] for p in chosen]},
        {"name": "MedicationRequest by status+patient", "paths": [
            "/fhir/MedicationRequest?status=active&patient=%s" % p["id"] for p in meds]},
        {"name": "Condition by code", "paths": [
            "/fhir/Condition?code=%s" % q(SNOMED + "|" + c) for c in conditions]},
        {"name": "Patient _revinclude Encounter", "paths": [
            "/fhir/Patient?_id=%s&_revinclude=Encounter:patient" % p["id"] for p in chosen]},
        {"name": "Encounter by chained patient.identifier", "paths": [
            "/fhir/Encounter?patient.identifier=%s" % q("%s|%s" % tuple(p["identifier"])) for p in chosen if p["identifier"]]},
        {"name": "Observation code+patient _include patient", "paths": [
            "/fhir/Observation?code=%s&patient=%s&_include=Observation:patient" % (q(LOINC + "|" + patient_code(p)), p["id"])
            for p in chosen]},
        {"name": "Patient $everything", "goal": "everything", "paths": [
            "/fhir/Patient/%s/$everything" % p["id"] for p in chosen]},
        {"name": "Observation deep page", "deep": True, "paths": [
            "/fhir/Observation?code=%s" % q(LOINC + "|" + c) for c in common[:args.deep_codes]]},
    ]
    # Baselines that work before the search engine lands (and a sanity floor afterwards).
    queries += [
        {"name": "(base) Patient by _id", "baseline": True, "paths": ["/fhir/Patient?_id=%s" % p["id"] for p in chosen]},
        {"name": "(base) Observation by patient", "baseline": True, "paths": [
            "/fhir/Observation?patient=%s" % p["id"] for p in chosen]},
        {"name": "(base) Patient read", "baseline": True, "read": True, "paths": ["/fhir/Patient/%s" % p["id"] for p in chosen]},
    ]
    out = {"clones": len(files), "patients": len(patients), "median_observations": median,
           "common_loinc": common[:5], "queries": queries}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
    print("sample: %d clones, %d patients (%d with active MedicationRequests), most common LOINC %s (%d), "
          "%d queries x up to %d values"
          % (len(files), len(patients), len(with_meds), top, obs_by_code[top], len(queries), n), file=sys.stderr)
    return 0


# -- queries ------------------------------------------------------------------------------------

def with_count(path, count):
    if count is None or count <= 0 or "_count=" in path:
        return path
    return path + ("&" if "?" in path else "?") + "_count=%d" % count


def bundle_facts(body):
    """(matches, entries, next link path or None) of a searchset Bundle; (None, None, None) otherwise."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None, None, None
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        return None, None, None
    entries = doc.get("entry", [])
    matches = sum(1 for e in entries if (e.get("search") or {}).get("mode", "match") == "match")
    nxt = next((l.get("url") for l in doc.get("link", []) if l.get("relation") == "next"), None)
    return matches, len(entries), nxt and path_of(nxt)


def deep_paths(client, paths, depth, keep, count):
    """Follow `next` links from each first page to page `depth` (or the last); return the paths of
    the last `keep` pages reached, the pages reached, and failures."""
    out, reached, failures = [], [], []
    for first in paths:
        path, page, chain = with_count(first, count), 1, []
        while True:
            status, body, _ = client.request("GET", path)
            if status != 200:
                failures.append({"status": status, "path": path[:200], "diagnostics": diagnostics(body)})
                break
            chain.append((page, path))
            _, _, nxt = bundle_facts(body)
            if nxt is None or page >= depth:
                break
            path, page = nxt, page + 1
        if chain:
            reached.append(chain[-1][0])
            out.extend(p for _, p in chain[-keep:])
    return out, reached, failures


def percentile(values, p):
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def cmd_queries(args):
    with open(args.sample) as f:
        sample = json.load(f)
    tokens = Tokens(args.base)
    headers = {"Accept": "application/fhir+json"}
    if not args.lenient:
        headers["Prefer"] = "handling=strict"
    client = Client(args.base, tokens, headers)
    results = []
    load_start = [round(x, 2) for x in os.getloadavg()]
    only = set(args.only.split(",")) if args.only else None
    for query in sample["queries"]:
        if only and not any(o.lower() in query["name"].lower() for o in only):
            continue
        if query.get("baseline") and args.no_baseline:
            continue
        res = {"name": query["name"], "goal": query.get("goal", "search"), "baseline": query.get("baseline", False),
               "failures": [], "statuses": {}}
        count = args.everything_count if query.get("goal") == "everything" else args.count
        if query.get("read"):
            count = None
        paths = [with_count(p, count) for p in query["paths"]] if not query.get("deep") else []
        if query.get("deep"):
            paths, reached, failures = deep_paths(client, query["paths"], args.deep_page, 5, args.count)
            res["pages_reached"] = reached
            res["failures"].extend(failures)
        if not paths:
            if not res["failures"]:
                res["failures"].append({"status": None, "path": "", "diagnostics": "no query values"})
            results.append(res)
            print("  %-38s FAIL %s" % (query["name"], res["failures"][0]["status"] or "no values"), file=sys.stderr)
            continue
        for i in range(args.warmup):
            client.request("GET", paths[i % len(paths)])
        times, matches, entries, empty = [], [], [], 0
        for i in range(args.iterations):
            path = paths[i % len(paths)]
            status, body, elapsed = client.request("GET", path)
            res["statuses"][str(status)] = res["statuses"].get(str(status), 0) + 1
            if status != 200:
                if len(res["failures"]) < 5:
                    res["failures"].append({"status": status, "path": path[:200], "diagnostics": diagnostics(body)})
                continue
            times.append(elapsed * 1000)
            m, n, _ = bundle_facts(body)
            if m is not None:
                matches.append(m)
                entries.append(n)
                if m == 0:
                    empty += 1
        times_sorted = sorted(times)
        res.update({
            "values": len(paths), "ok": len(times), "iterations": args.iterations,
            "p50": round(statistics.median(times_sorted), 3) if times else None,
            "p99": round(percentile(times_sorted, 99), 3) if times else None,
            "max": round(times_sorted[-1], 3) if times else None,
            "mean_matches": round(statistics.mean(matches), 1) if matches else None,
            "mean_entries": round(statistics.mean(entries), 1) if entries else None,
            "empty_results": empty,
        })
        results.append(res)
        status = "ok" if not res["failures"] else "FAIL %s" % ",".join(
            sorted({str(f["status"]) for f in res["failures"]}))
        print("  %-38s p50 %8s  p99 %8s  matches %6s  %s" % (
            query["name"], fmt(res["p50"]), fmt(res["p99"]), res["mean_matches"], status), file=sys.stderr)
    out = {"label": args.label, "resources": args.resources, "iterations": args.iterations,
           "loadavg_start": load_start, "loadavg_end": [round(x, 2) for x in os.getloadavg()],
           "count": args.count, "strict": not args.lenient, "reconnects": client.reconnects, "queries": results}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
    return 0


# -- report -------------------------------------------------------------------------------------

def fmt(x, digits=2):
    return "-" if x is None else ("%.*f" % (digits, x))


def cmd_report(args):
    with open(args.small) as f:
        small = json.load(f)
    with open(args.large) as f:
        large = json.load(f)
    by_name = {q["name"]: q for q in large["queries"]}
    rows, failures = [], []
    for s in small["queries"]:
        l = by_name.get(s["name"], {})
        p50s, p99s, p50l, p99l = s.get("p50"), s.get("p99"), l.get("p50"), l.get("p99")
        ratio = p50l / p50s if p50l is not None and p50s else None
        everything = s.get("goal") == "everything"
        goals = {
            "p50": p50l is not None and p50l <= (args.everything_p50 if everything else args.p50),
            "p99": True if everything else (p99l is not None and p99l <= args.p99),
            "ratio": ratio is not None and ratio <= args.ratio,
        }
        failed = bool(s.get("failures") or l.get("failures"))
        row = {"query": s["name"], "baseline": s.get("baseline", False),
               "small": {"p50_ms": p50s, "p99_ms": p99s, "ok": s.get("ok"), "statuses": s.get("statuses"),
                         "mean_matches": s.get("mean_matches"), "mean_entries": s.get("mean_entries"), "empty_results": s.get("empty_results"),
                         "pages_reached": s.get("pages_reached")},
               "large": {"p50_ms": p50l, "p99_ms": p99l, "ok": l.get("ok"), "statuses": l.get("statuses"),
                         "mean_matches": l.get("mean_matches"), "mean_entries": l.get("mean_entries"), "empty_results": l.get("empty_results"),
                         "pages_reached": l.get("pages_reached")},
               "ratio_p50": round(ratio, 3) if ratio is not None else None,
               "goals": goals, "meets_goals": not failed and all(goals.values()), "failed": failed,
               "failures": {"small": s.get("failures", []), "large": l.get("failures", [])}}
        rows.append(row)
        if failed:
            failures.append(row)
    table = {"small_resources": small.get("resources"), "large_resources": large.get("resources"),
             "iterations": small.get("iterations"), "count": small.get("count"), "strict": small.get("strict"),
             "goals": {"p50_ms": args.p50, "p99_ms": args.p99, "everything_p50_ms": args.everything_p50,
                       "ratio_p50": args.ratio},
             "load": args.load_state and json.load(open(args.load_state)).get("phases"),
             "rows": rows}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(table, f, indent=1, ensure_ascii=False)
    print()
    print("Search benchmark: %s resources (small) vs %s (large), %s iterations, _count=%s, %s"
          % (small.get("resources"), large.get("resources"), small.get("iterations"), small.get("count"),
             "Prefer: handling=strict" if small.get("strict") else "lenient"))
    print("Goals at large: p50 <= %g ms, p99 <= %g ms ($everything p50 <= %g ms), p50 large/small <= %g"
          % (args.p50, args.p99, args.everything_p50, args.ratio))
    for phase in (small, large):
        if phase.get("loadavg_start"):
            print("Machine load average (1/5/15 min) during the %s run: %s at start, %s at end (2 cores shared: "
                  "above ~1.5 the figures are inflated by other work)"
                  % (phase.get("label"), phase["loadavg_start"], phase["loadavg_end"]))
    head = "%-38s %9s %9s %9s %9s %7s  %s" % ("query", "p50 S", "p99 S", "p50 L", "p99 L", "ratio", "goals")
    print(head)
    print("-" * len(head))
    for r in rows:
        if r["failed"]:
            verdict = "FAILED (non-200)"
        elif r["baseline"]:
            verdict = "(baseline)"
        else:
            missed = [k for k, ok in r["goals"].items() if not ok]
            verdict = "ok" if not missed else "MISS " + ",".join(missed)
        if any(r[z]["ok"] and r[z]["empty_results"] == r[z]["ok"] for z in ("small", "large")):
            verdict += " (no matches: values wrong?)"
        print("%-38s %9s %9s %9s %9s %7s  %s" % (
            r["query"], fmt(r["small"]["p50_ms"]), fmt(r["small"]["p99_ms"]), fmt(r["large"]["p50_ms"]),
            fmt(r["large"]["p99_ms"]), fmt(r["ratio_p50"]), verdict))
    notes = []
    for r in rows:
        for size in ("small", "large"):
            if r[size].get("pages_reached"):
                notes.append("%s at %s: pages reached %s" % (r["query"], size, r[size]["pages_reached"]))
            if r[size].get("empty_results"):
                notes.append("%s at %s: %d responses with no match" % (r["query"], size, r[size]["empty_results"]))
    if table["load"]:
        for ph in table["load"]:
            notes.append("load: %d resources in %.0fs = %d resources/s (%d clients)"
                         % (ph["resources"], ph["seconds"], ph["rate"], ph["clients"]))
    for n in notes:
        print("  " + n)
    if failures:
        print("\nFAILURES (non-200 responses):")
        for r in failures:
            for size in ("small", "large"):
                for f in r["failures"][size][:2]:
                    print("  %s [%s] HTTP %s %s\n      %s" % (r["query"], size, f["status"], f["path"],
                                                             f["diagnostics"]))
        return 3
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("load")
    p.add_argument("--base", required=True)
    p.add_argument("--gen", required=True, help="directory of clone-NNNNNN.json transaction Bundles")
    p.add_argument("--state", required=True)
    p.add_argument("--upto", type=int, required=True)
    p.add_argument("--clients", type=int, default=4)
    p = sub.add_parser("sample")
    p.add_argument("--gen", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=int, default=20)
    p.add_argument("--name-prefix", type=int, default=4)
    p.add_argument("--deep-codes", type=int, default=4)
    p = sub.add_parser("queries")
    p.add_argument("--base", required=True)
    p.add_argument("--sample", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--label", default="")
    p.add_argument("--resources", type=int, default=0)
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--everything-count", type=int, default=50, help="0: no _count on $everything")
    p.add_argument("--deep-page", type=int, default=20)
    p.add_argument("--lenient", action="store_true", help="no Prefer: handling=strict")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--only", default="", help="comma-separated substrings of query names")
    p = sub.add_parser("report")
    p.add_argument("--small", required=True)
    p.add_argument("--large", required=True)
    p.add_argument("--out")
    p.add_argument("--load-state")
    p.add_argument("--p50", type=float, default=5)
    p.add_argument("--p99", type=float, default=30)
    p.add_argument("--everything-p50", type=float, default=100)
    p.add_argument("--ratio", type=float, default=1.5)
    args = ap.parse_args()
    return {"load": cmd_load, "sample": cmd_sample, "queries": cmd_queries, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
