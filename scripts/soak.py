#!/usr/bin/env python3
"""Helper of scripts/soak.sh (issue 19's soak; docs/reliability.md, "Soak"). Python 3 stdlib only.

  soak.py seed   --base URL --token T --logins FILE --out IDS [--patients N] [--observations N]
      creates the resources the load reads (Patients in 20 families, Observations of them), writes
      them as "P <id> <family>" / "O <id>" lines for scripts/soak.lua, then sends each kind of
      request of the mix once and fails unless every one answers 2xx.
  soak.py sample --pid PID --data DIR --out CSV [--interval S] [--metrics URL]
      every S seconds until SIGTERM: medrec's RSS, threads and open fds, the database's client
      connections (psql on the embedded cluster through runuser; the sampler's own excluded), the
      PostgreSQL processes' total PSS, and in-flight requests and audit queue depth from /metrics.
  soak.py report --work DIR --out DIR --connections N --pool N [--title TEXT]
      reads the windows' wrk outputs and the samples, writes soak-samples.csv, soak-windows.csv,
      soak.svg and soak-summary.txt to --out, prints the summary with PASS/FAIL lines; exit 1 on FAIL.
"""
import argparse
import bisect
import concurrent.futures
import csv
import datetime
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

PG_BIN = "/usr/lib/postgresql/15/bin"


# MARK: - seed

def http(method, url, token=None, body=None, content_type="application/fhir+json"):
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def seed(args):
    families = [f"Soakfam{k:02d}" for k in range(20)]

    def patient(i):
        family = families[i % len(families)]
        body = {"resourceType": "Patient", "name": [{"family": family, "given": ["Soak", f"P{i}"]}],
                "gender": "female" if i % 2 else "male", "birthDate": f"19{50 + i % 50:02d}-0{1 + i % 9}-1{i % 10}"}
        status, payload = http("POST", f"{args.base}/fhir/Patient", args.token, body)
        if status != 201:
            raise RuntimeError(f"POST /fhir/Patient: {status} {payload[:300]!r}")
        return json.loads(payload)["id"], family

    def observation(j, subject):
        body = {"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
                "subject": {"reference": f"Patient/{subject}"}, "effectiveDateTime": f"2024-02-{1 + j % 28:02d}T09:00:00Z",
                "valueQuantity": {"value": 60 + j % 60, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}
        status, payload = http("POST", f"{args.base}/fhir/Observation", args.token, body)
        if status != 201:
            raise RuntimeError(f"POST /fhir/Observation: {status} {payload[:300]!r}")
        return json.loads(payload)["id"]

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        patients = list(pool.map(patient, range(args.patients)))
        subjects = [patients[j % len(patients)][0] for j in range(args.patients * args.observations)]
        observations = list(pool.map(observation, range(len(subjects)), subjects))
    with open(args.out, "w") as f:
        for pid, family in patients:
            f.write(f"P {pid} {family}\n")
        for oid in observations:
            f.write(f"O {oid}\n")
    print(f"seeded {len(patients)} Patients ({len(families)} families) and {len(observations)} Observations "
          f"in {time.monotonic() - t0:.1f} s")

    # Each kind of request of the mix once: the load must not be mostly errors by mistake.
    pid, family = patients[0]
    checks = [
        ("GET", f"/fhir/Patient/{pid}", None, None),
        ("GET", f"/fhir/Observation/{observations[0]}", None, None),
        ("GET", f"/fhir/Observation?subject=Patient/{pid}&_count=20", None, None),
        ("GET", f"/fhir/Patient?family={family}&_count=20", None, None),
        ("POST", "/fhir/Observation", {"resourceType": "Observation", "status": "final",
                                        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                                        "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2024-03-01T10:00:00Z",
                                        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org",
                                                          "code": "/min"}}, "application/fhir+json"),
        ("PUT", f"/fhir/Patient/{pid}", {"resourceType": "Patient", "id": pid, "name": [{"family": family, "given": ["Soak", "Check"]}],
                                         "gender": "female", "birthDate": "1980-05-17"}, "application/fhir+json"),
        ("GET", f"/patients/{pid}", None, None),
        ("GET", "/patients?limit=20", None, None),
        ("POST", "/patients", {"firstName": "Soak", "lastName": "Platform", "dateOfBirth": "1980-05-17", "gender": "female",
                               "address": {"line": ["1 Load Street"], "city": "Springfield", "state": "IL",
                                           "postalCode": "62701", "country": "US"},
                               "contact": {"phone": "+1 555 0100", "email": "soak.check@soak.example", "other": []}},
         "application/json"),
    ]
    bad = []
    for method, path, body, content_type in checks:
        status, payload = http(method, args.base + path, args.token, body, content_type or "application/json")
        if not 200 <= status < 300:
            bad.append(f"{method} {path}: {status} {payload[:300]!r}")
    with open(args.logins) as f:
        for line in f:
            email, password = line.rstrip("\n").split("\t", 1)
            status, payload = http("POST", f"{args.base}/auth/login", None, {"email": email, "password": password},
                                   "application/json")
            if status != 200 or "accessToken" not in json.loads(payload or b"{}"):
                bad.append(f"POST /auth/login ({email}): {status} {payload[:300]!r}")
    if bad:
        print("a request of the mix does not answer 2xx:\n  " + "\n  ".join(bad), file=sys.stderr)
        sys.exit(1)
    print(f"each kind of request answered 2xx once ({len(checks)} + logins)")


# MARK: - sample

def pgdata_of(data):
    location = os.path.join(data, "postgres.location")
    root = open(location).read().strip() if os.path.exists(location) else os.path.join(data, "postgres")
    return os.path.join(root, "data")


def status_fields(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def kib(value):
    return int(value.split()[0]) if value else 0


def children(ppid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def pss_kib(pid):
    """Proportional set size (shared pages split among their users, so a sum over processes does
    not count shared_buffers once per backend); the RSS where smaps_rollup is unreadable."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return kib(line.split(":", 1)[1])
    except OSError:
        pass
    try:
        return kib(status_fields(pid).get("VmRSS"))
    except OSError:
        return 0


def sample(args):
    pgdata = pgdata_of(args.data)
    with open(os.path.join(pgdata, "postmaster.pid")) as f:
        lines = f.read().split("\n")
    postmaster, port, socket_dir = int(lines[0]), lines[3].strip(), lines[4].strip()
    sql = ("SELECT count(*) FILTER (WHERE datname = current_database() AND backend_type = 'client backend'), count(*) "
           "FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    columns = ["t", "rss_kib", "hwm_kib", "threads", "fds", "db_client_connections", "db_backends",
               "pg_pss_kib", "in_flight", "audit_queue"]
    with open(args.out, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        out.flush()
        while not stop:
            t = time.time()
            try:
                fields = status_fields(args.pid)
                fds = len(os.listdir(f"/proc/{args.pid}/fd"))
            except OSError:
                print("sampler: medrec is gone", file=sys.stderr)
                break
            db_clients = db_all = ""
            try:
                result = subprocess.run(
                    ["runuser", "-u", "postgres", "--", f"{PG_BIN}/psql", "-X", "-At", "-F", " ", "-h", socket_dir, "-p", port,
                     "-U", "medrec", "-d", "medrec", "-c", sql], capture_output=True, text=True, timeout=20, cwd="/")
                if result.returncode == 0:
                    db_clients, db_all = result.stdout.split()
                else:
                    print(f"sampler: psql: {result.stderr.strip()[:200]}", file=sys.stderr)
            except (subprocess.TimeoutExpired, ValueError) as error:
                print(f"sampler: psql: {error}", file=sys.stderr)
            pg_pss = pss_kib(postmaster) + sum(pss_kib(child) for child in children(postmaster))
            in_flight = audit = ""
            if args.metrics:
                try:
                    with urllib.request.urlopen(args.metrics, timeout=5) as response:
                        for line in response.read().decode().splitlines():
                            if line.startswith("medrec_http_requests_in_flight"):
                                in_flight = int(float(line.split()[-1]))
                            elif line.startswith("medrec_audit_queue_depth"):
                                audit = int(float(line.split()[-1]))
                except (OSError, ValueError):
                    pass
            writer.writerow([f"{t:.3f}", kib(fields.get("VmRSS")), kib(fields.get("VmHWM")), fields.get("Threads", ""), fds,
                             db_clients, db_all, pg_pss, in_flight, audit])
            out.flush()
            while not stop and time.time() < t + args.interval:
                time.sleep(0.1)


# MARK: - report

def parse_wrk(path):
    """The SOAK line's figures and the SOAKCOUNT lines ("kind class" -> n) of one window."""
    figures, counts = {}, {}
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("SOAK "):
                figures = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}
            elif line.startswith("SOAKCOUNT "):
                _, key_kind, key_class, n = line.split()
                counts[f"{key_kind} {key_class}"] = int(n)
    return figures, counts


LOG_REQUEST = re.compile(r'^\{"time":"([^"]+)".*"duration_us":(\d+).*"request_id":"([^"]*)".*"status":(\d+)')
LOG_LEVEL = re.compile(r'"level":"(\w+)"')
LOG_MESSAGE = re.compile(r'"message":"((?:[^"\\]|\\.)*)"')


def parse_server_log(path):
    """Every request the server logged (one line each when it answers, also after the client has
    gone): statuses by soak kind and class, (answered at, duration ms) of the load's requests,
    login durations, and log lines above notice (and 5xx). The JSON log line starts with its time;
    the metadata keys follow sorted by name."""
    kinds, classes, timings, login_ms, loud = {}, {}, [], [], {}
    with open(path, errors="replace") as f:
        for line in f:
            if '"message":"request"' not in line:
                level = LOG_LEVEL.search(line)
                if level and level.group(1) in ("warning", "error", "critical"):
                    message = LOG_MESSAGE.search(line)
                    key = f"{level.group(1)}: {message.group(1)[:150] if message else line[:150]}"
                    loud[key] = loud.get(key, 0) + 1
                continue
            match = LOG_REQUEST.search(line)
            if not match:
                continue
            duration, request_id, status = int(match.group(2)), match.group(3), int(match.group(4))
            cls = f"{status // 100}xx"
            classes[cls] = classes.get(cls, 0) + 1
            if status >= 500:
                loud[f"status {status}: {line.strip()[:200]}"] = loud.get(f"status {status}: {line.strip()[:200]}", 0) + 1
            kind = request_id.split("-")[1] if request_id.startswith("soak-") else "other (setup, tokens)"
            counts = kinds.setdefault(kind, {})
            counts[cls] = counts.get(cls, 0) + 1
            if status in (429, 500, 503):
                counts[str(status)] = counts.get(str(status), 0) + 1
            if kind == "login":
                login_ms.append(duration / 1000)
            if request_id.startswith("soak-"):
                answered = datetime.datetime.fromisoformat(match.group(1).replace("Z", "+00:00")).timestamp()
                timings.append((answered, duration / 1000))
    return kinds, classes, timings, login_ms, loud


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def median(values):
    return statistics.median(values) if values else float("nan")


def svg_plot(path, samples, windows, t0, t_end, half, title):
    """Two panels over time (seconds since the load began): medrec RSS (MiB) per sample and
    p50/p99 latency (ms) per window."""
    width, height = 900, 560
    left, right = 70, 20
    panels = [(50, 230), (320, 500)]  # (top, bottom) of each plot area
    span = max(t_end - t0, 1.0)

    def x(t):
        return left + (t - t0) / span * (width - left - right)

    def nice_max(v):
        if v <= 0:
            return 1.0
        exp = 10 ** int(f"{v:e}".split("e")[1])
        for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
            if m * exp >= v:
                return m * exp
        return 10 * exp

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>']

    def panel(top, bottom, series, label, ymax):
        ymax = nice_max(ymax * 1.1)
        def y(v):
            return bottom - v / ymax * (bottom - top)
        out.append(f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{bottom - top}" fill="none" stroke="#888"/>')
        for k in range(6):
            v = ymax * k / 5
            out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
            out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
        step = max(10, nice_max(span / 10))
        t = 0.0
        while t <= span + 1e-6:
            out.append(f'<line x1="{x(t0 + t):.1f}" x2="{x(t0 + t):.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#888"/>')
            out.append(f'<text x="{x(t0 + t):.1f}" y="{bottom + 17}" text-anchor="middle">{t:g}</text>')
            t += step
        out.append(f'<line x1="{x(half):.1f}" x2="{x(half):.1f}" y1="{top}" y2="{bottom}" stroke="#999" stroke-dasharray="4 4"/>')
        out.append(f'<text x="{x(half) + 4:.1f}" y="{top + 14}" fill="#666">second half</text>')
        out.append(f'<text transform="translate(16 {(top + bottom) / 2}) rotate(-90)" text-anchor="middle">{escape(label)}</text>')
        for k, (name, colour, points) in enumerate(series):
            if points:
                path_d = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for i, (t, v) in enumerate(points))
                out.append(f'<path d="{path_d}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
                for t, v in points:
                    out.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.2" fill="{colour}"/>')
            lx = width - right - sum(40 + 7 * len(n) for n, _, _ in series[k:])
            out.append(f'<line x1="{lx}" x2="{lx + 20}" y1="{top - 8}" y2="{top - 8}" stroke="{colour}" stroke-width="2"/>')
            out.append(f'<text x="{lx + 25}" y="{top - 4}">{escape(name)}</text>')

    rss = [(s["t"], s["rss_kib"] / 1024) for s in samples if t0 <= s["t"] <= t_end]
    panel(panels[0][0], panels[0][1], [("medrec RSS (MiB)", "#1f77b4", rss)], "medrec RSS (MiB)",
          max([v for _, v in rss] or [1]))
    p50 = [((w["start"] + w["end"]) / 2, w["p50_ms"]) for w in windows]
    p99 = [((w["start"] + w["end"]) / 2, w["p99_ms"]) for w in windows]
    server = [((w["start"] + w["end"]) / 2, w["server_p99_ms"]) for w in windows if w.get("server_p99_ms") == w.get("server_p99_ms")]
    panel(panels[1][0], panels[1][1], [("p50 (ms)", "#2ca02c", p50), ("p99 (ms)", "#d62728", p99),
                                       ("server-logged p99 (ms)", "#ff9896", server)],
          "latency per window (ms)", max([v for _, v in p99] or [1]))
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">'
               'seconds since the load began</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def report(args):
    work = args.work
    windows = []
    with open(os.path.join(work, "windows.tsv")) as f:
        for line in f:
            n, start, end, path = line.split("\t")
            figures, counts = parse_wrk(path.strip())
            if not figures:
                print(f"window {n}: no SOAK line in {path.strip()}", file=sys.stderr)
                continue
            windows.append({"n": int(n), "start": float(start), "end": float(end), "counts": counts,
                            "requests": int(figures["requests"]), "rps": figures["requests"] / (figures["duration_us"] / 1e6),
                            "p50_ms": figures["p50_us"] / 1000, "p90_ms": figures["p90_us"] / 1000,
                            "p99_ms": figures["p99_us"] / 1000, "max_ms": figures["max_us"] / 1000,
                            "socket_errors": int(figures["connect"] + figures["read"] + figures["write"] + figures["timeout"]),
                            "timeouts": int(figures["timeout"])})
    samples = []
    with open(os.path.join(work, "samples.csv")) as f:
        for row in csv.DictReader(f):
            samples.append({k: (float(v) if v not in ("", None) else None) for k, v in row.items()})
    if not windows or not samples:
        print("no windows or no samples", file=sys.stderr)
        sys.exit(1)
    t0, t_end = windows[0]["start"], windows[-1]["end"]
    half = t0 + (t_end - t0) / 2
    os.makedirs(args.out, exist_ok=True)

    # classes over the whole run, and per kind
    classes, kinds = {}, {}
    for w in windows:
        w["classes"] = {}
        for key, n in w["counts"].items():
            kind, cls = key.split(" ")
            if cls.endswith("xx"):
                classes[cls] = classes.get(cls, 0) + n
                w["classes"][cls] = w["classes"].get(cls, 0) + n
            kinds.setdefault(kind, {})
            kinds[kind][cls] = kinds[kind].get(cls, 0) + n

    # The server's own view: the request log's duration (its middleware chain, from the request
    # log middleware to the response) of the load's requests answered within each window.
    server_kinds, server_classes, timings, login_ms, loud = parse_server_log(os.path.join(work, "server.log"))
    timings.sort()
    answered = [t for t, _ in timings]
    for w in windows:
        inside = [d for _, d in timings[bisect.bisect_left(answered, w["start"]):bisect.bisect_right(answered, w["end"])]]
        w["server_p50_ms"], w["server_p99_ms"] = percentile(inside, 50), percentile(inside, 99)

    with open(os.path.join(args.out, "soak-windows.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["window", "start_s", "end_s", "requests", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms",
                         "2xx", "3xx", "4xx", "5xx", "socket_errors", "server_p50_ms", "server_p99_ms"])
        for w in windows:
            c = w["classes"]
            writer.writerow([w["n"], f"{w['start'] - t0:.1f}", f"{w['end'] - t0:.1f}", w["requests"], f"{w['rps']:.1f}",
                             f"{w['p50_ms']:.2f}", f"{w['p90_ms']:.2f}", f"{w['p99_ms']:.2f}", f"{w['max_ms']:.2f}",
                             c.get("2xx", 0), c.get("3xx", 0), c.get("4xx", 0), c.get("5xx", 0), w["socket_errors"],
                             f"{w['server_p50_ms']:.2f}", f"{w['server_p99_ms']:.2f}"])
    with open(os.path.join(args.out, "soak-samples.csv"), "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["t_s", "phase", "rss_mib", "hwm_mib", "threads", "fds", "db_client_connections", "db_backends",
                         "pg_pss_mib", "in_flight", "audit_queue"])
        for s in samples:
            phase = "before" if s["t"] < t0 else ("after" if s["t"] > t_end else "load")
            def fmt(v, scale=1.0):
                return "" if v is None else (f"{v / scale:.1f}" if scale != 1.0 else f"{v:g}")
            writer.writerow([f"{s['t'] - t0:.1f}", phase, fmt(s["rss_kib"], 1024), fmt(s["hwm_kib"], 1024), fmt(s["threads"]),
                             fmt(s["fds"]), fmt(s["db_client_connections"]), fmt(s["db_backends"]), fmt(s["pg_pss_kib"], 1024),
                             fmt(s["in_flight"]), fmt(s["audit_queue"])])

    # Samples under load, away from the gaps between two wrk processes (each reconnects).
    boundaries = [w["start"] for w in windows] + [w["end"] for w in windows]
    load = [s for s in samples if t0 <= s["t"] <= t_end]
    steady = [s for s in load if all(abs(s["t"] - b) > 1.5 for b in boundaries)]
    before = [s for s in samples if s["t"] < t0]
    after = [s for s in samples if s["t"] > t_end + 1.0]

    lines = []
    def say(text=""):
        lines.append(text)
        print(text, flush=True)
    results = []
    def check(name, ok, detail):
        results.append(ok)
        say(f"{'PASS' if ok else 'FAIL'}: {name}: {detail}")

    total = sum(w["requests"] for w in windows)
    say(args.title)
    say(f"load: {len(windows)} windows, {t_end - t0:.0f} s, {args.connections} connections (a new wrk process, so new "
        f"connections, per window); {total:,} requests, {total / (t_end - t0):.0f}/s")
    say("statuses: " + ", ".join(f"{k} {v:,}" for k, v in sorted(classes.items())) +
        f"; socket errors {sum(w['socket_errors'] for w in windows)} (timeouts {sum(w['timeouts'] for w in windows)})")
    say("by kind:")
    for kind in sorted(kinds):
        c = kinds[kind]
        extra = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if not k.endswith("xx"))
        say(f"  {kind:26s} " + "  ".join(f"{k} {v:>7,}" for k, v in sorted(c.items()) if k.endswith("xx"))
            + (f"   ({extra})" if extra else ""))
    logged = sum(server_classes.values())
    say(f"server log: {logged:,} requests answered (also those whose client had left at the end of a window, "
        "and setup): " + ", ".join(f"{k} {v:,}" for k, v in sorted(server_classes.items())))
    for kind in sorted(server_kinds):
        if kind not in kinds:
            say(f"  {kind:26s} " + "  ".join(f"{k} {v:>7,}" for k, v in sorted(server_kinds[kind].items()) if k.endswith("xx")))
    logins = server_kinds.get("login", {})
    say(f"logins (server log): {sum(v for k, v in logins.items() if k.endswith('xx'))} answered, 2xx {logins.get('2xx', 0)}, "
        f"429 (throttle) {logins.get('429', 0)}, 503 (busy) {logins.get('503', 0)}; duration p50 "
        f"{median(login_ms):.0f} ms, max {max(login_ms or [float('nan')]):.0f} ms (wrk saw "
        f"{sum(v for k, v in kinds.get('login', {}).items() if k.endswith('xx'))} of them answered within their window)")
    say("server log lines above notice: " + (", ".join(f"{v} x {k}" for k, v in sorted(loud.items(), key=lambda kv: -kv[1])[:6])
                                              or "none"))
    drained = open(os.path.join(work, "drained.txt")).read().strip() if os.path.exists(os.path.join(work, "drained.txt")) else ""
    say(f"requests in flight after the load: " + (f"none after {drained} s" if drained else "did not drain within 180 s"))

    # RSS: the sample nearest the middle of the load against the last one under load.
    mid = min(load, key=lambda s: abs(s["t"] - half))
    last = load[-1]
    growth = (last["rss_kib"] - mid["rss_kib"]) / mid["rss_kib"] * 100
    second = [s for s in load if s["t"] >= mid["t"]]
    peak2 = max(s["rss_kib"] for s in second)
    say(f"medrec RSS: before load {before[-1]['rss_kib'] / 1024:.1f} MiB, at mid-load ({mid['t'] - t0:.0f} s) "
        f"{mid['rss_kib'] / 1024:.1f} MiB, at the end ({last['t'] - t0:.0f} s) {last['rss_kib'] / 1024:.1f} MiB "
        f"(growth {growth:+.2f} %), second-half peak {peak2 / 1024:.1f} MiB, after load "
        f"{(after[-1]['rss_kib'] / 1024) if after else float('nan'):.1f} MiB; high-water mark "
        f"{max(s['hwm_kib'] for s in samples) / 1024:.1f} MiB")
    pg = [s["pg_pss_kib"] for s in load if s["pg_pss_kib"]]
    if pg:
        say(f"PostgreSQL total PSS under load: {min(pg) / 1024:.1f}-{max(pg) / 1024:.1f} MiB "
            f"(mid {mid['pg_pss_kib'] / 1024:.1f}, end {last['pg_pss_kib'] / 1024:.1f})")
    fds = [int(s["fds"]) for s in steady] or [int(s["fds"]) for s in load]
    # Before and after the load, compare the fds that are not database connections: the pool
    # opens connections on demand and closes them 10 s after their last use, so the after-load
    # samples can hold up to the pool's size more sockets than the before-load ones, and the
    # database connections have a check of their own.
    def non_database(sample):
        return int(sample["fds"]) - int(sample["db_client_connections"] or 0)
    fds_before = non_database(before[-1]) if before else None
    fds_after = non_database(after[-1]) if after else None
    say(f"open fds of medrec: before load {fds_before} besides database connections, under load (samples >1.5 s from a window boundary: {len(fds)}) "
        f"min {min(fds)} max {max(fds)}, after load {fds_after} besides database connections; all samples under load {min(int(s['fds']) for s in load)}-"
        f"{max(int(s['fds']) for s in load)}")
    db = [int(s["db_client_connections"]) for s in samples if s["db_client_connections"] is not None]
    db_load = [int(s["db_client_connections"]) for s in load if s["db_client_connections"] is not None]
    say(f"database client connections: min {min(db) if db else '?'} max {max(db) if db else '?'} "
        f"(under load {min(db_load) if db_load else '?'}-{max(db_load) if db_load else '?'}; pool size {args.pool})")
    threads = [int(s["threads"]) for s in load if s["threads"] is not None]
    say(f"medrec threads under load: {min(threads)}-{max(threads)}")
    flight = [int(s["in_flight"]) for s in steady if s["in_flight"] is not None]
    if flight:
        say(f"requests in flight in medrec under load: {min(flight)}-{max(flight)} ({args.connections} connections)")
    p99 = [w["p99_ms"] for w in windows]
    first = [w["p99_ms"] for w in windows if (w["start"] + w["end"]) / 2 < half]
    later = [w["p99_ms"] for w in windows if (w["start"] + w["end"]) / 2 >= half]
    say(f"p99 per window (ms): min {min(p99):.1f} median {median(p99):.1f} max {max(p99):.1f}; first-half median "
        f"{median(first):.1f}, second-half max {max(later or [float('nan')]):.1f}; p50 median "
        f"{median([w['p50_ms'] for w in windows]):.1f} ms; requests/s per window {min(w['rps'] for w in windows):.0f}-"
        f"{max(w['rps'] for w in windows):.0f}")
    say("p99 per window as the server logged it (time in its handler chain; wrk's figure adds the wait before and "
        "after it and the network): " + ", ".join(f"{w['server_p99_ms']:.0f}" for w in windows) + " ms")
    say("p99 per window as wrk saw it: " + ", ".join(f"{w['p99_ms']:.0f}" for w in windows) + " ms")
    say("")

    check("no 5xx", classes.get("5xx", 0) == 0 and server_classes.get("5xx", 0) == 0,
          f"{classes.get('5xx', 0)} of {total:,} seen by wrk, {server_classes.get('5xx', 0)} of {logged:,} in the server log")
    check("no socket errors or timeouts (30 s)", sum(w["socket_errors"] for w in windows) == 0,
          f"{sum(w['socket_errors'] for w in windows)}")
    check("medrec RSS growth over the second half < 10 %", growth < 10,
          f"{mid['rss_kib'] / 1024:.1f} -> {last['rss_kib'] / 1024:.1f} MiB ({growth:+.2f} %)")
    fd_bound = max(8, args.connections // 20)
    fd_ok = max(fds) - min(fds) <= fd_bound and (fds_before is None or fds_after is None or fds_after <= fds_before + 4)
    check(f"open fds flat (under load max-min <= {fd_bound}; after load <= before + 4, database connections aside)", fd_ok,
          f"under load {min(fds)}-{max(fds)}, before {fds_before}, after {fds_after}")
    db_ok = bool(db) and max(db) <= args.pool + 3 and max(db_load) - min(db_load) <= 3
    check(f"database connections flat (max <= pool {args.pool} + 3, max-min under load <= 3)", db_ok,
          f"{min(db) if db else '?'}-{max(db) if db else '?'}")
    p99_ok = bool(first) and bool(later) and max(later) < 2 * median(first)
    check("p99 stable (second-half max < 2x first-half median)", p99_ok,
          f"{max(later or [float('nan')]):.1f} ms vs 2 x {median(first):.1f} ms")
    failed = results.count(False)
    say(f"{len(results) - failed} passed, {failed} failed")

    svg_plot(os.path.join(args.out, "soak.svg"), samples, windows, t0, t_end, half, args.title)
    with open(os.path.join(args.out, "soak-summary.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {os.path.join(args.out, 'soak.svg')}, soak-samples.csv, soak-windows.csv, soak-summary.txt")
    sys.exit(1 if failed else 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("seed")
    p.add_argument("--base", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--logins", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--patients", type=int, default=200)
    p.add_argument("--observations", type=int, default=2, help="per Patient")
    p = sub.add_parser("sample")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--interval", type=float, default=5.0)
    p.add_argument("--metrics")
    p = sub.add_parser("report")
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--pool", type=int, default=12)
    p.add_argument("--title", default="medrec soak")
    args = parser.parse_args()
    {"seed": seed, "sample": sample, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
