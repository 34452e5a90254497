#!/usr/bin/env python3
"""Crash durability test (issue 19), stdlib only. Run as root (the embedded cluster runs as `postgres`).

  scripts/crash-test.py [--bin PATH] [--duration S] [--outage S] [--threads N] [--only a|b] [--keep]

Builds nothing: --bin is an existing medrec (default .build/debug/medrec), with its
medical-records_Server.resources bundle beside it. Each part uses a fresh data directory under /tmp
with the embedded PostgreSQL (durable settings: fsync and synchronous_commit on).

  (A) kill both: a write load (8 threads: FHIR creates of Patient and Observation, FHIR updates of
      Patient with and without If-Match, transaction Bundles of 3-5 entries with urn:uuid
      references, platform POST /patients) runs for --duration seconds; in the middle, medrec, the
      postmaster and every postgres child are frozen (SIGSTOP) at one instant and then SIGKILLed,
      so nothing runs or flushes after that instant. medrec is started again on the same data
      directory, with no repair, and timed until it listens.
  (B) kill only the database: the same load; in the middle the postmaster and its children are
      SIGKILLed and the load keeps running for --outage seconds (default 35, longer than the 30 s
      statement timeout, so that a request held longer than that is seen). medrec's watchdog starts
      its embedded cluster again (within about 2 s; the outage is measured to its "runs again" log
      line); had it not, the script starts it by hand with pg_ctl on the same port and socket
      directory. The same medrec process must serve again by itself. Requests sent during the
      outage, and those in flight at the kill, must get a 503 (or a 2xx) within the statement
      timeout; /health/ready must never answer 200 while the database is down (503 once its 3 s
      check gives up; an outage shorter than that is held, and answered 200 when it is over).

After each part, only 2xx answers count as acknowledged, and the checks are:
  - every acknowledged write reads back with the content and version acknowledged (current version
    >= acknowledged, the acknowledged version in _history; platform records on /patients/{id});
  - every acknowledged write has its AuditEvent (audit_event: entity type/id/version, outcome 0,
    and the X-Request-Id the request carried);
  - no transaction Bundle is half applied, acknowledged or not (every entry carries the Bundle's
    marker in its identifier), and no resource was created twice;
  - resource_history versions are 1..N without gap or duplicate, resource.version_id = N, and the
    current row equals its last history row (SQL, whole database);
  - the search index agrees: a search by each resource's unique identifier (platform records: by
    exact family name; updated Patients: with the acknowledged given name too) finds exactly it, and
    every current Patient/Observation has token (and string/reference) index rows (SQL);
  - (A) the first medrec exited by the kill, the second answers /health/ready 200;
    (B) no 500 ever, recovery without a restart of medrec;
  - the last medrec stops on SIGTERM (exit 0) within 60 s (MEDREC_SHUTDOWN_GRACE_SECONDS is 25).
A request that gets no answer within 45 s is given up (status 0 in the figures).
Prints PASS/FAIL lines with figures, a summary with timings and 'N passed, N failed'; exits 1 if
anything failed. Processes and temporary directories are removed at the end, also on error or
Ctrl-C (--keep keeps the directories, with the server and PostgreSQL logs, for inspection).
"""
import argparse
import base64
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_BIN = "/usr/lib/postgresql/15/bin"
STATEMENT_TIMEOUT = 30.0  # MEDREC_STATEMENT_TIMEOUT_MS default, seconds
RECOVERY_LIMIT = 120.0    # seconds the server may take to serve again once PostgreSQL is back
START_TIMEOUT = 300.0     # seconds for medrec to listen (first start: initdb; restart: crash recovery)

results = []  # (name, "PASS"|"FAIL", detail)
timings = []  # (what, seconds)



def watchdog_restart_time(log_path, after):
    """The monotonic time of medrec's "the embedded PostgreSQL server runs again" log line
    written after `after` (a monotonic time), or None. The log's times are wall-clock (UTC)."""
    import datetime
    offset = time.time() - time.monotonic()
    found = None
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                if "the embedded PostgreSQL server runs again" not in line:
                    continue
                try:
                    stamp = json.loads(line)["time"]
                except (ValueError, KeyError):
                    continue
                wall = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
                mono = wall - offset
                if mono > after:
                    found = mono
                    break
    except OSError:
        return None
    return found

def record(name, ok, detail):
    state = "PASS" if ok else "FAIL"
    results.append((name, state, detail))
    print(f"{state}: {name}: {detail}", flush=True)


def note(text):
    print(f"  .. {text}", flush=True)


# MARK: - HTTP

def http(method, url, body=None, headers=None, timeout=60):
    """(status, headers, body bytes); status 0 with the error text when no HTTP answer came."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            data = body if isinstance(body, bytes) else body.encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()
    except Exception as error:  # refused, reset, timeout
        return 0, {}, f"{type(error).__name__}: {error}".encode()


def fhir_headers(token, request_id=None, extra=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json",
               "Accept": "application/fhir+json"}
    if request_id:
        headers["X-Request-Id"] = request_id
    headers.update(extra or {})
    return headers


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# MARK: - Processes

def proc_info(pid):
    """(ppid, state, cmdline) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        return int(fields[1]), fields[0], cmd
    except (OSError, IndexError, ValueError):
        return None


def cluster_pids(pgdata, postmaster):
    """The postmaster, its children (their command lines do not name the data directory) and any
    process whose command line names the data directory; zombies excluded."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        info = proc_info(int(entry))
        if info is None or info[1] == "Z":
            continue
        pid, (ppid, _, cmd) = int(entry), info
        if (postmaster and (pid == postmaster or ppid == postmaster)) or pgdata in cmd:
            found.add(pid)
    return found


def alive(pid):
    info = proc_info(pid)
    return info is not None and info[1] != "Z"


def freeze_and_kill(pids_first, pgdata, postmaster, freeze=True):
    """SIGSTOP the given processes (the postmaster first: it cannot fork after that) and every
    postgres process of the cluster, listed beforehand, back to back; then look again for a child
    forked meanwhile and stop it too; then SIGKILL them all. After the first SIGSTOP nothing new
    is acknowledged (medrec is frozen) and after the last nothing runs or flushes.
    With freeze=False the same order gets SIGKILL straight away (a plain crash of the database).
    Returns the pids killed and how long signalling the listed processes took."""
    first = signal.SIGSTOP if freeze else signal.SIGKILL
    listed = list(pids_first) + sorted(cluster_pids(pgdata, postmaster) - set(pids_first))
    stopped = []
    t0 = time.monotonic()
    for pid in listed:
        try:
            os.kill(pid, first)
            stopped.append(pid)
        except ProcessLookupError:
            pass
    instant = time.monotonic() - t0
    for pid in cluster_pids(pgdata, postmaster) - set(stopped):  # forked before the postmaster stopped
        try:
            os.kill(pid, first)
            stopped.append(pid)
        except ProcessLookupError:
            pass
    for pid in stopped:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(p) for p in stopped):
        time.sleep(0.05)
    left = [p for p in stopped if alive(p)]
    if left:
        raise RuntimeError(f"processes survived SIGKILL: {left}")
    return stopped, instant


class Postmaster:
    """The lines of postmaster.pid (pid, data directory, port, socket directory, status)."""

    def __init__(self, pgdata):
        with open(os.path.join(pgdata, "postmaster.pid")) as f:
            lines = [line.strip() for line in f.read().split("\n")]
        self.pid = int(lines[0])
        self.pgdata = lines[1]
        self.port = int(lines[3])
        self.socket_dir = lines[4]
        self.status = lines[7] if len(lines) > 7 else ""


def psql(pm, sql, timeout=300):
    out = subprocess.run(
        ["runuser", "-u", "postgres", "--", f"{PG_BIN}/psql", "-X", "-q", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1",
         "-h", pm.socket_dir, "-p", str(pm.port), "-U", "medrec", "-d", "medrec"],
        input=sql, text=True, capture_output=True, timeout=timeout, cwd="/")
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()[:500]}")
    return [line.split("|") for line in out.stdout.splitlines() if line]


class Server:
    """One data directory and the medrec processes serving it."""

    def __init__(self, binary, work, name):
        self.binary = binary
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.metrics_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.starts = 0
        self.log = None

    @property
    def pgdata(self):
        location = os.path.join(self.data, "postgres.location")
        root = open(location).read().strip() if os.path.exists(location) else os.path.join(self.data, "postgres")
        return os.path.join(root, "data")

    def medrec(self, *args, stdin=None):
        out = subprocess.run([self.binary, *args, "--data-dir", self.data], input=stdin, text=True,
                             capture_output=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"medrec {' '.join(args[:2])} failed: {out.stderr.strip()[-500:]}")
        return out.stdout

    def start(self):
        """Starts `medrec serve`; returns seconds until it printed 'listening on'."""
        self.starts += 1
        self.log = os.path.join(self.dir, f"server-{self.starts}.log")
        t0 = time.monotonic()
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([self.binary, "serve", "--data-dir", self.data, "--port", str(self.port),
                                             "--metrics-port", str(self.metrics_port)],
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while time.monotonic() - t0 < START_TIMEOUT:
            if "listening on" in open(self.log, errors="replace").read():
                return time.monotonic() - t0
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        tail = open(self.log, errors="replace").read()[-2000:]
        raise RuntimeError(f"medrec serve did not listen (exit {self.process.poll()}); log tail:\n{tail}")

    def in_flight(self):
        """medrec_http_requests_in_flight from the metrics listener (None if unreadable)."""
        status, _, body = http("GET", f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10)
        for line in body.decode(errors="replace").splitlines() if status == 200 else []:
            if line.startswith("medrec_http_requests_in_flight"):
                return int(float(line.split()[-1]))
        return None

    def wait_ready(self, timeout=120):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            status, _, _ = http("GET", f"{self.base}/health/ready", timeout=5)
            if status == 200:
                return time.monotonic() - t0
            time.sleep(0.1)
        return None

    def terminate(self, timeout=60):
        """SIGTERM, as a supervisor stops it: (exit status or None if it had to be SIGKILLed, seconds)."""
        if not self.process or self.process.poll() is not None:
            return self.process.poll() if self.process else None, 0.0
        t0 = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout), time.monotonic() - t0
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None, time.monotonic() - t0

    def stop(self):
        """SIGTERM (medrec stops its cluster cleanly), then whatever is left of the cluster."""
        self.terminate()
        try:
            pm = Postmaster(self.pgdata)
        except (OSError, ValueError, IndexError):
            pm = None
        if pm and alive(pm.pid):
            subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "-D", self.pgdata, "-m", "immediate",
                            "-w", "-t", "60", "-s", "stop"], cwd="/", capture_output=True, timeout=90)
        leftovers = cluster_pids(self.pgdata, pm.pid if pm else 0) if os.path.isdir(self.pgdata) else set()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_token(server, client_id, secret):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    for _ in range(20):
        status, _, body = http("POST", f"{server.base}/auth/token", "grant_type=client_credentials",
                               {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
        if status == 200:
            return json.loads(body)["access_token"]
        time.sleep(1)
    raise RuntimeError(f"token: {status} {body[:300]!r}")


# MARK: - Load

class Ack:
    """One acknowledged write of one resource."""
    __slots__ = ("kind", "type", "id", "version", "expected", "request_id", "identifier", "family", "given")

    def __init__(self, kind, rtype, rid, version, expected, request_id, identifier=None, family=None, given=None):
        self.kind, self.type, self.id, self.version = kind, rtype, rid, version
        self.expected, self.request_id = expected, request_id
        self.identifier, self.family, self.given = identifier, family, given


def strip(doc):
    return {k: v for k, v in doc.items() if k not in ("id", "meta")}


def version_of(headers, doc):
    try:
        return int(doc["meta"]["versionId"])
    except (KeyError, TypeError, ValueError):
        etag = (headers.get("ETag") or "") if headers else ""
        return int(etag.strip('W/"')) if etag.strip('W/"').isdigit() else None


class Load:
    KINDS = ("patient", "observation", "update", "transaction", "platform")

    def __init__(self, base, token, run, phase, threads):
        self.base, self.token, self.run, self.phase, self.threads = base, token, run, phase, threads
        self.system = f"urn:medrec:crash-test:{run}"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.samples = []   # (t0, t1, kind, status, request id, error text when no answer came)
        self.acks = []      # Ack
        self.bundles = {}   # marker -> (entries, status)
        self.errors = {}    # (kind, status) -> first body
        self.workers = []

    def start(self):
        self.workers = [threading.Thread(target=self.worker, args=(n,), daemon=True) for n in range(self.threads)]
        for t in self.workers:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.workers:
            t.join(timeout=STATEMENT_TIMEOUT * 3)
        return not any(t.is_alive() for t in self.workers)

    def send(self, kind, method, path, body, request_id, extra=None):
        t0 = time.monotonic()
        status, headers, payload = http(method, self.base + path, body, fhir_headers(self.token, request_id, extra),
                                        timeout=STATEMENT_TIMEOUT + 15)
        t1 = time.monotonic()
        with self.lock:
            self.samples.append((t0, t1, kind, status, request_id, payload[:120].decode(errors="replace") if status == 0 else ""))
            if not 200 <= status < 300:
                self.errors.setdefault((kind, status), payload[:300])
        if not 200 <= status < 300:
            time.sleep(0.05)  # as a client would back off; keeps an outage from being a busy loop
        return status, headers, payload

    def patient_body(self, value, rng, i):
        return {"resourceType": "Patient", "identifier": [{"system": self.system, "value": value}],
                "name": [{"family": f"Crash{self.phase.upper()}", "given": [f"G{i}"]}],
                "gender": rng.choice(["female", "male", "other", "unknown"]),
                "birthDate": f"19{rng.randrange(30, 99)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                "telecom": [{"system": "phone", "value": f"+1 555 {rng.randrange(10000):04d}"}]}

    def observation_body(self, value, subject, rng):
        return {"resourceType": "Observation", "status": "final", "identifier": [{"system": self.system, "value": value}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
                "subject": {"reference": subject}, "effectiveDateTime": "2024-03-0%dT10:00:00Z" % rng.randrange(1, 10),
                "valueQuantity": {"value": rng.randrange(40, 180), "unit": "/min", "system": "http://unitsofmeasure.org",
                                  "code": "/min"}}

    def worker(self, n):
        rng = random.Random(f"{self.run}-{self.phase}-{n}")
        pool = {}  # this thread's Patients: id -> (version, content); only it updates them
        i = 0
        while not self.stop.is_set():
            i += 1
            tag = f"{self.phase}-{n}-{i}"
            request_id = f"crash-{self.run}-{tag}"
            r = rng.random()
            if r < 0.22 or not pool:
                body = self.patient_body(tag, rng, i)
                status, headers, payload = self.send("patient", "POST", "/fhir/Patient", body, request_id)
                if 200 <= status < 300:
                    doc = json.loads(payload)
                    version = version_of(headers, doc)
                    pool[doc["id"]] = (version, body)
                    with self.lock:
                        self.acks.append(Ack("create", "Patient", doc["id"], version, body, request_id,
                                             identifier=tag, given=body["name"][0]["given"][0]))
            elif r < 0.42:
                subject = rng.choice(list(pool))
                body = self.observation_body(tag, f"Patient/{subject}", rng)
                status, headers, payload = self.send("observation", "POST", "/fhir/Observation", body, request_id)
                if 200 <= status < 300:
                    doc = json.loads(payload)
                    with self.lock:
                        self.acks.append(Ack("create", "Observation", doc["id"], version_of(headers, doc), body,
                                             request_id, identifier=tag))
            elif r < 0.62:
                pid = rng.choice(list(pool))
                version, old = pool[pid]
                body = json.loads(json.dumps(old))
                body["id"] = pid
                body["name"][0]["given"] = [f"U{n}x{i}"]
                body["telecom"][0]["value"] = f"+1 555 {rng.randrange(10000):04d}"
                with_match = i % 2 == 0
                extra = {"If-Match": f'W/"{version}"'} if with_match else None
                status, headers, payload = self.send("update", "PUT", f"/fhir/Patient/{pid}", body, request_id, extra)
                if 200 <= status < 300:
                    doc = json.loads(payload) if payload else {}
                    new_version = version_of(headers, doc)
                    pool[pid] = (new_version, body)
                    with self.lock:
                        self.acks.append(Ack("update", "Patient", pid, new_version, body, request_id,
                                             identifier=body["identifier"][0]["value"], given=f"U{n}x{i}"))
                else:
                    pool.pop(pid)  # outcome unknown: its version is no longer this thread's to predict
            elif r < 0.80:
                self.transaction(tag, request_id, rng, i)
            else:
                last = f"Plat{self.run}{tag.replace('-', 'x')}"
                body = {"firstName": f"P{i}", "lastName": last, "dateOfBirth": "1985-12-10",
                        "gender": rng.choice(["female", "male"]),
                        "contact": {"email": f"{tag}.{self.run}@crash.example", "phone": "+44 20 7946 0000", "other": []}}
                headers = {"Authorization": f"Bearer {self.token}", "X-Request-Id": request_id}
                t0 = time.monotonic()
                status, rh, payload = http("POST", f"{self.base}/patients", body, headers, timeout=STATEMENT_TIMEOUT + 15)
                with self.lock:
                    self.samples.append((t0, time.monotonic(), "platform", status, request_id,
                                         payload[:120].decode(errors="replace") if status == 0 else ""))
                    if 200 <= status < 300:
                        doc = json.loads(payload)
                        etag = (rh.get("ETag") or "").strip('W/"')
                        self.acks.append(Ack("platform", "Patient", doc["id"], int(etag) if etag.isdigit() else None,
                                             body, request_id, family=last))
                    else:
                        self.errors.setdefault(("platform", status), payload[:300])
                if not 200 <= status < 300:
                    time.sleep(0.05)

    def transaction(self, tag, request_id, rng, i):
        marker = f"{tag}-b"
        patient_url = f"urn:uuid:{uuid.uuid4()}"
        patient = self.patient_body(f"{marker}0", rng, i)
        entries = [{"fullUrl": patient_url, "resource": patient, "request": {"method": "POST", "url": "Patient"}}]
        for k in range(1, rng.randrange(3, 6)):
            obs = self.observation_body(f"{marker}{k}", patient_url, rng)
            entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": obs,
                            "request": {"method": "POST", "url": "Observation"}})
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        status, _, payload = self.send("transaction", "POST", "/fhir", bundle, request_id)
        with self.lock:
            self.bundles[marker] = (len(entries), status)
        if not 200 <= status < 300:
            return
        response = json.loads(payload)
        ids = []
        for entry in response.get("entry", []):
            location = entry.get("response", {}).get("location", "")
            parts = location.split("/")  # Type/id/_history/v
            ids.append((parts[0], parts[1], int(parts[3]) if len(parts) > 3 else None))
        if len(ids) != len(entries):
            with self.lock:
                self.errors.setdefault(("transaction", "bad response"), payload[:300])
            return
        patient_id = ids[0][1]
        with self.lock:
            for entry, (rtype, rid, version) in zip(entries, ids):
                expected = json.loads(json.dumps(entry["resource"]))
                if rtype == "Observation":
                    expected["subject"]["reference"] = f"Patient/{patient_id}"
                self.acks.append(Ack("transaction", rtype, rid, version, expected, request_id,
                                     identifier=expected["identifier"][0]["value"],
                                     given=expected.get("name", [{}])[0].get("given", [None])[0]))

    def summary(self, t_start, t_end):
        by_kind = {}
        for _, _, kind, status, _, _ in self.samples:
            counts = by_kind.setdefault(kind, {})
            key = "2xx" if 200 <= status < 300 else str(status)
            counts[key] = counts.get(key, 0) + 1
        parts = []
        for kind in self.KINDS:
            counts = by_kind.get(kind, {})
            other = {k: v for k, v in counts.items() if k != "2xx"}
            parts.append(f"{kind} {counts.get('2xx', 0)}/{sum(counts.values())}" + (f" {other}" if other else ""))
        n = len(self.samples)
        return (f"{n} requests in {t_end - t_start:.1f} s ({n / max(t_end - t_start, 0.001):.0f}/s, {self.threads} threads), "
                f"acknowledged/sent: " + "; ".join(parts) + f"; {len(self.acks)} acknowledged resource writes")


# MARK: - Checks

def parallel(items, fn, threads=8):
    items = list(items)
    out = [None] * len(items)

    def run(offset):
        for k in range(offset, len(items), threads):
            out[k] = fn(items[k])
    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return out


def platform_matches(expected, doc):
    return (doc.get("firstName") == expected["firstName"] and doc.get("lastName") == expected["lastName"]
            and doc.get("dateOfBirth") == expected["dateOfBirth"] and doc.get("gender") == expected["gender"]
            and doc.get("contact", {}).get("email") == expected["contact"]["email"]
            and doc.get("contact", {}).get("phone") == expected["contact"]["phone"])


def check_data(label, server, token, load):
    """The checks shared by both parts, on the server as it runs after the crash."""
    base = server.base
    auth = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    acks = load.acks
    t0 = time.monotonic()

    # 1. Every acknowledged write reads back, with its content and version.
    def read_back(ack):
        problems = []
        if ack.kind == "platform":
            status, headers, body = http("GET", f"{base}/patients/{ack.id}", None, auth)
            if status != 200:
                return [f"{ack.type}/{ack.id} platform read {status}"]
            if not platform_matches(ack.expected, json.loads(body)):
                problems.append(f"{ack.type}/{ack.id} platform content differs")
            etag = (headers.get("ETag") or "").strip('W/"')
            if ack.version is not None and (not etag.isdigit() or int(etag) < ack.version):
                problems.append(f"{ack.type}/{ack.id} version {etag} < acknowledged {ack.version}")
            status, _, _ = http("GET", f"{base}/fhir/Patient/{ack.id}/_history/{ack.version or 1}", None, auth)
            if status != 200:
                problems.append(f"{ack.type}/{ack.id} _history/{ack.version or 1} {status}")
            return problems
        status, _, body = http("GET", f"{base}/fhir/{ack.type}/{ack.id}", None, auth)
        if status != 200:
            return [f"{ack.type}/{ack.id} read {status}"]
        doc = json.loads(body)
        current = int(doc["meta"]["versionId"])
        if ack.version is None or current < ack.version:
            return [f"{ack.type}/{ack.id} current version {current} < acknowledged {ack.version}"]
        if current == ack.version:
            if strip(doc) != strip(ack.expected):
                problems.append(f"{ack.type}/{ack.id} v{current} content differs")
        if current != ack.version or ack.kind == "update":
            status, _, body = http("GET", f"{base}/fhir/{ack.type}/{ack.id}/_history/{ack.version}", None, auth)
            if status != 200:
                problems.append(f"{ack.type}/{ack.id} _history/{ack.version} {status}")
            elif strip(json.loads(body)) != strip(ack.expected):
                problems.append(f"{ack.type}/{ack.id} _history/{ack.version} content differs")
        return problems

    found = parallel(acks, read_back)
    problems = [p for ps in found for p in ps]
    kinds = {}
    for ack in acks:
        kinds[ack.kind] = kinds.get(ack.kind, 0) + 1
    record(f"{label} every acknowledged write reads back with its content and version",
           not problems and len(acks) > 0,
           f"{len(acks)} acknowledged resource writes {kinds} checked in {time.monotonic() - t0:.1f} s; "
           f"{len(problems)} problems {problems[:5]}")

    pm = Postmaster(server.pgdata)

    # 2. Each acknowledged write has its AuditEvent, recorded for the request that made it.
    t1 = time.monotonic()
    rows = psql(pm, "SELECT entity_type, entity_id, entity_version, coalesce(request_id, '') FROM audit_event "
                    "WHERE subtype IN ('create', 'update') AND outcome = '0' AND request_id LIKE 'crash-%'")
    audited = {}
    for rtype, rid, version, request_id in rows:
        audited.setdefault((rtype, rid, int(version) if version else None), set()).add(request_id)
    missing = [a for a in acks if (a.type, a.id, a.version) not in audited]
    wrong_request = [a for a in acks if (a.type, a.id, a.version) in audited
                     and a.request_id not in audited[(a.type, a.id, a.version)]]
    doubled = [k for k, v in audited.items() if len(v) > 1]
    record(f"{label} every acknowledged write has its AuditEvent",
           not missing and not wrong_request and not doubled,
           f"{len(acks) - len(missing)}/{len(acks)} audited (entity type/id/version, outcome 0, the request's "
           f"X-Request-Id); {len(missing)} missing {[f'{a.type}/{a.id}/v{a.version}' for a in missing[:3]]}, "
           f"{len(wrong_request)} under another request id, {len(doubled)} versions audited by two requests; "
           f"{len(rows)} create/update audit rows of this run in all, so {len(rows) - (len(acks) - len(missing))} "
           f"writes committed whose answer never reached the client ({time.monotonic() - t1:.1f} s)")

    # 3. No half-applied transaction, no resource created twice.
    rows = psql(pm, f"SELECT content->'identifier'->0->>'value', type, id FROM resource "
                    f"WHERE NOT deleted AND content->'identifier'->0->>'system' = '{load.system}'")
    by_value = {}
    for value, rtype, rid in rows:
        by_value.setdefault(value, []).append((rtype, rid))
    duplicates = {v: r for v, r in by_value.items() if len(r) > 1}
    per_bundle = {}
    for value in by_value:
        if "-b" in value:
            marker = value[:value.rindex("-b") + 2]
            per_bundle[marker] = per_bundle.get(marker, 0) + 1
    complete = absent = 0
    partial, acked_incomplete, committed_unacked = [], [], 0
    for marker, (entries, status) in load.bundles.items():
        present = per_bundle.get(marker, 0)
        ok = 200 <= status < 300
        if present == entries:
            complete += 1
            committed_unacked += 0 if ok else 1
        elif present == 0:
            absent += 1
            if ok:
                acked_incomplete.append(marker)
        else:
            partial.append((marker, present, entries, status))
    strays = [m for m in per_bundle if m not in load.bundles]
    acked = sum(1 for e, s in load.bundles.values() if 200 <= s < 300)
    record(f"{label} no transaction half applied, nothing created twice",
           not partial and not acked_incomplete and not duplicates and not strays,
           f"{len(load.bundles)} Bundles sent ({acked} acknowledged): {complete} complete "
           f"({committed_unacked} of them committed though unacknowledged), {absent} absent, {len(partial)} partial "
           f"{partial[:3]}, {len(acked_incomplete)} acknowledged but absent; {len(rows)} resources of this run, "
           f"{len(duplicates)} identifiers held by two resources {list(duplicates)[:3]}")

    # 4. Versions 1..N without gap or duplicate; the current row is its last history row.
    rows = psql(pm, """
        SELECT count(*),
               count(*) FILTER (WHERE h.n IS DISTINCT FROM r.version_id OR h.d IS DISTINCT FROM h.n
                                OR h.lo IS DISTINCT FROM 1 OR h.hi IS DISTINCT FROM r.version_id),
               count(*) FILTER (WHERE last.content IS DISTINCT FROM r.content OR last.deleted IS DISTINCT FROM r.deleted
                                OR last.last_updated IS DISTINCT FROM r.last_updated),
               coalesce(sum(h.n), 0), coalesce(max(r.version_id), 0)
        FROM resource r
        LEFT JOIN LATERAL (SELECT count(*) n, count(DISTINCT version_id) d, min(version_id) lo, max(version_id) hi
                           FROM resource_history h WHERE h.resource_key = r.resource_key) h ON true
        LEFT JOIN resource_history last ON last.resource_key = r.resource_key AND last.version_id = r.version_id;
        SELECT count(*) FROM resource_history h WHERE NOT EXISTS (SELECT 1 FROM resource r WHERE r.resource_key = h.resource_key);
    """)
    total, gaps, stale, history, top = (int(x) for x in rows[0])
    orphans = int(rows[1][0])
    record(f"{label} versions 1..N without gap or duplicate, current row = last history row",
           gaps == 0 and stale == 0 and orphans == 0 and total > 0,
           f"{total} resources, {history} history rows, highest version {top}: {gaps} with a gap/duplicate or "
           f"version_id != N, {stale} whose current row differs from history version N, {orphans} orphan history rows")

    # 5. The search index agrees with the resources.
    t2 = time.monotonic()
    latest = {}
    for ack in acks:
        key = (ack.type, ack.id)
        if key not in latest or (ack.version or 0) > (latest[key].version or 0):
            latest[key] = ack

    def searched(ack):
        if ack.kind == "platform":
            query = f"family:exact={urllib.parse.quote(ack.family)}"
        else:
            query = "identifier=" + urllib.parse.quote(f"{load.system}|{ack.identifier}")
        checks = [query]
        if ack.type == "Patient" and ack.given and ack.kind != "platform":
            checks.append(query + "&given:exact=" + urllib.parse.quote(ack.given))
        problems = []
        for q in checks:
            status, _, body = http("GET", f"{base}/fhir/{ack.type}?{q}", None, auth)
            if status != 200:
                problems.append(f"{ack.type}?{q}: {status}")
                continue
            ids = [e["resource"]["id"] for e in json.loads(body).get("entry", [])
                   if e.get("search", {}).get("mode", "match") == "match"]
            if ids != [ack.id]:
                problems.append(f"{ack.type}?{q} -> {ids} (want {ack.id})")
        return problems, len(checks)

    outcomes = parallel(latest.values(), searched)
    search_problems = [p for ps, _ in outcomes for p in ps]
    searches = sum(n for _, n in outcomes)
    # Whether the acknowledged given name is still current depends on unacknowledged updates that
    # committed after it: only count a given-name miss when the current version is the acknowledged one.
    rows = psql(pm, """
        SELECT count(*) FILTER (WHERE r.type IN ('Patient', 'Observation')),
               count(*) FILTER (WHERE r.type IN ('Patient', 'Observation')
                                AND NOT EXISTS (SELECT 1 FROM search_token t WHERE t.resource_key = r.resource_key)),
               count(*) FILTER (WHERE r.type = 'Patient'
                                AND NOT EXISTS (SELECT 1 FROM search_string s WHERE s.resource_key = r.resource_key)),
               count(*) FILTER (WHERE r.type = 'Observation'
                                AND NOT EXISTS (SELECT 1 FROM search_reference s WHERE s.resource_key = r.resource_key)),
               count(*) FILTER (WHERE r.type = 'Observation'
                                AND NOT EXISTS (SELECT 1 FROM search_date s WHERE s.resource_key = r.resource_key)),
               count(*) FILTER (WHERE r.index_version < (SELECT max(index_version) FROM resource))
        FROM resource r WHERE NOT r.deleted;
        SELECT count(*) FROM search_token t WHERE NOT EXISTS
            (SELECT 1 FROM resource r WHERE r.resource_key = t.resource_key AND NOT r.deleted);
    """)
    indexed, no_token, no_string, no_reference, no_date, old_index = (int(x) for x in rows[0])
    orphan_tokens = int(rows[1][0])
    given_misses = [p for p in search_problems if "given:exact" in p]
    real_given_misses = []
    for p in given_misses:
        rid = p.split("want ")[-1].rstrip(")")
        ack = latest.get(("Patient", rid))
        status, _, body = http("GET", f"{base}/fhir/Patient/{rid}", None, auth)
        if status != 200 or ack is None or int(json.loads(body)["meta"]["versionId"]) == ack.version:
            real_given_misses.append(p)
    search_problems = [p for p in search_problems if "given:exact" not in p] + real_given_misses
    record(f"{label} the search index agrees with the resources",
           not search_problems and no_token == 0 and no_string == 0 and no_reference == 0 and no_date == 0
           and old_index == 0 and orphan_tokens == 0,
           f"{searches} searches for {len(latest)} resources (identifier; exact family for platform records; "
           f"+ acknowledged given name for Patients) in {time.monotonic() - t2:.1f} s: {len(search_problems)} wrong "
           f"{search_problems[:3]} ({len(given_misses) - len(real_given_misses)} given-name misses explained by a "
           f"later unacknowledged update); SQL over {indexed} current Patient/Observation rows: {no_token} without "
           f"token rows, {no_string} Patients without string rows, {no_reference}/{no_date} Observations without "
           f"reference/date rows, {old_index} below the current index version, {orphan_tokens} token rows of "
           f"no current resource")


# MARK: - Parts

def stopped_cleanly(label, server):
    code, took = server.terminate(timeout=60)
    tail = [line for line in open(server.log, errors="replace").read().splitlines()[-3:]]
    record(f"{label} medrec stops on SIGTERM after the run (exit 0, embedded PostgreSQL stopped)", code == 0,
           f"exit {code if code is not None else 'none: still running 60 s after SIGTERM, SIGKILLed'} {took:.1f} s after "
           f"SIGTERM (MEDREC_SHUTDOWN_GRACE_SECONDS 25)" + ("" if code == 0 else f"; last log line: {tail[-1][:200] if tail else ''}"))


def part_a(args, work, run):
    print("\n== A: SIGKILL medrec and PostgreSQL at one instant under write load ==", flush=True)
    server = Server(args.bin, work, "a")
    try:
        t0 = time.monotonic()
        creds = dict(line.split(": ", 1) for line in server.medrec("client", "add", "--name", "crash", "--scopes",
                                                                  "system/*.cruds").splitlines() if ": " in line)
        first = server.start()
        timings.append(("A: first start (initdb, migrations)", time.monotonic() - t0))
        token = client_token(server, creds["client_id"], creds["client_secret"])
        note(f"server up in {first:.1f} s on {server.base}, data {server.data}")

        load = Load(server.base, token, run, "a", args.threads)
        t_start = time.monotonic()
        load.start()
        time.sleep(args.duration / 2)
        pm = Postmaster(server.pgdata)
        medrec_pid = server.process.pid
        t_kill = time.monotonic()
        killed, frozen = freeze_and_kill([pm.pid, medrec_pid], pm.pgdata, pm.pid)
        in_flight = sum(1 for s in load.samples if s[0] < t_kill) - sum(1 for s in load.samples if s[1] < t_kill)
        acked_at_kill = len(load.acks)
        note(f"killed medrec {medrec_pid} and {len(killed) - 1} postgres processes (postmaster {pm.pid}) "
             f"{t_kill - t_start:.1f} s into the load; all frozen within {frozen * 1000:.2f} ms; "
             f"{acked_at_kill} resource writes acknowledged by then")
        exit_code = server.process.wait(timeout=30)
        time.sleep(max(0.0, args.duration - (time.monotonic() - t_start)))
        load.finish()
        t_end = time.monotonic()
        before = [s for s in load.samples if s[1] < t_kill]
        bad = {}
        for s in before:
            if s[3] >= 500 and s[3] != 503:
                bad[s[3]] = bad.get(s[3], 0) + 1
        record("A load: no 5xx other than 503 before the kill", not bad and len(before) > 0,
               load.summary(t_start, t_end) + f"; before the kill: {len(before)} answers, 5xx {bad or 'none'}; "
               f"after it: {len(load.samples) - len(before)} requests refused or cut (status 0), "
               f"about {max(in_flight, 0)} in flight at the kill; sample errors "
               f"{ {k: v[:80] for k, v in list(load.errors.items())[:3]} }")

        t_restart = time.monotonic()
        listening = server.start()
        ready = server.wait_ready()
        timings.append(("A: restart after the kill (crash recovery) until listening", listening))
        recovery_log = ""
        pg_log = os.path.join(os.path.dirname(server.pgdata), "postgres.log")
        if os.path.exists(pg_log):
            text = open(pg_log, errors="replace").read()
            recovery_log = "redo done" if "redo done" in text else ("recovery" if "recovery" in text else "")
        record("A server restarts on the same data directory without repair",
               exit_code == -signal.SIGKILL and ready is not None,
               f"first process exit {exit_code} (SIGKILL); medrec listening {listening:.1f} s after restart, "
               f"/health/ready 200 {(ready or float('nan')):.1f} s later ({time.monotonic() - t_restart:.1f} s in all); "
               f"PostgreSQL log: {recovery_log or 'no recovery line'}")

        status, _, _ = http("GET", f"{server.base}/auth/me", None, {"Authorization": f"Bearer {token}"})
        if status == 401:
            token = client_token(server, creds["client_id"], creds["client_secret"])
            note("the token issued before the crash was refused after it; using a new one")
        settings = dict(psql(Postmaster(server.pgdata), "SELECT name, setting FROM pg_settings WHERE name IN "
                             "('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method')"))
        record("A the embedded cluster runs with durable settings (a SIGKILL keeps the page cache: only "
               "these make a commit survive a power loss too)",
               settings.get("fsync") == "on" and settings.get("synchronous_commit") == "on"
               and settings.get("full_page_writes") == "on", f"{settings}")
        check_data("A", server, token, load)
        stopped_cleanly("A", server)
    finally:
        server.stop()


def part_b(args, work, run):
    print("\n== B: SIGKILL only PostgreSQL under write load; medrec keeps running ==", flush=True)
    server = Server(args.bin, work, "b")
    try:
        t0 = time.monotonic()
        creds = dict(line.split(": ", 1) for line in server.medrec("client", "add", "--name", "crash", "--scopes",
                                                                  "system/*.cruds").splitlines() if ": " in line)
        first = server.start()
        timings.append(("B: first start", time.monotonic() - t0))
        token = client_token(server, creds["client_id"], creds["client_secret"])
        note(f"server up in {first:.1f} s on {server.base}")
        medrec_pid = server.process.pid

        readiness = []  # (time, status)
        stop_poll = threading.Event()

        def poll():
            while not stop_poll.is_set():
                t = time.monotonic()
                status, _, _ = http("GET", f"{server.base}/health/ready", timeout=STATEMENT_TIMEOUT * 2)
                readiness.append((t, status, time.monotonic() - t))
                time.sleep(0.25)
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()

        load = Load(server.base, token, run, "b", args.threads)
        t_start = time.monotonic()
        load.start()
        time.sleep(args.duration / 2)
        pm = Postmaster(server.pgdata)
        t_kill = time.monotonic()
        killed, frozen = freeze_and_kill([pm.pid], pm.pgdata, pm.pid, freeze=False)
        note(f"killed {len(killed)} postgres processes (postmaster {pm.pid}, port {pm.port}, socket {pm.socket_dir}) "
             f"{t_kill - t_start:.1f} s into the load; medrec {medrec_pid} keeps running")
        time.sleep(args.outage)

        # Does medrec bring its cluster back itself? Its watchdog does (EmbeddedPostgres checks the
        # postmaster every 2 s), so PostgreSQL was down for less than --outage: when exactly is
        # taken from medrec's own log line below.
        restarted_by_medrec = False
        try:
            again = Postmaster(server.pgdata)
            restarted_by_medrec = again.pid != pm.pid and alive(again.pid)
        except (OSError, ValueError, IndexError):
            pass
        t_pg0 = time.monotonic()
        if not restarted_by_medrec:
            out = subprocess.run(
                ["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "-D", pm.pgdata,
                 "-l", os.path.join(os.path.dirname(pm.pgdata), "postgres.log"),
                 "-o", f"-p {pm.port} -k {pm.socket_dir}", "-w", "-t", "120", "-s", "start"],
                cwd=os.path.dirname(pm.pgdata), capture_output=True, text=True, timeout=180)
            if out.returncode != 0:
                raise RuntimeError(f"pg_ctl start failed: {out.stdout} {out.stderr}")
        t_pg = time.monotonic()
        if restarted_by_medrec:
            back = watchdog_restart_time(server.log, t_kill)
            if back is not None:
                t_pg0 = t_pg = back
        note(f"PostgreSQL {'restarted by medrec' if restarted_by_medrec else 'restarted by hand with pg_ctl'} "
             f"after {t_pg0 - t_kill:.1f} s down; start took {t_pg - t_pg0:.1f} s (crash recovery)")

        t_ok = None
        while time.monotonic() - t_pg < RECOVERY_LIMIT:
            with load.lock:
                oks = [s[1] for s in load.samples if s[0] >= t_pg and 200 <= s[3] < 300]
            if oks:
                t_ok = min(oks)
                break
            time.sleep(0.1)
        time.sleep(max(3.0, args.duration / 2))
        t_tail = time.monotonic() - 2.0
        joined = load.finish()
        t_end = time.monotonic()
        stop_poll.set()
        poller.join(timeout=STATEMENT_TIMEOUT * 2)

        samples = load.samples
        stuck = server.in_flight()  # requests the server still holds, the load being over
        t_stuck = time.monotonic() - t_kill
        all_codes = {}
        for s in samples:
            key = "2xx" if 200 <= s[3] < 300 else s[3]
            all_codes[key] = all_codes.get(key, 0) + 1
        outage = [s for s in samples if t_kill <= s[0] < t_pg]  # sent while PostgreSQL was down
        around = [s for s in samples if s[0] < t_kill < s[1]]
        out_codes, around_codes = {}, {}
        for s in outage:
            out_codes[s[3]] = out_codes.get(s[3], 0) + 1
        for s in around:
            around_codes[s[3]] = around_codes.get(s[3], 0) + 1
        latencies = [s[1] - s[0] for s in outage]
        first_503 = min((s[1] for s in samples if s[0] >= t_kill and s[3] == 503), default=None)
        late = [s for s in outage if s[1] > t_pg]
        slow = sorted(outage, key=lambda s: s[0] - s[1])[:3]
        record("B requests sent during the outage get 503 (or, held until PostgreSQL is back, 2xx) within the statement timeout",
               len(outage) > 0 and all(c == 503 or 200 <= c < 300 for c in out_codes) and max(latencies) < STATEMENT_TIMEOUT,
               f"{len(outage)} requests sent while PostgreSQL was down: {out_codes}, "
               f"{len(late)} of them answered only after it was back (slowest: "
               + ", ".join(f"{s[2]} sent {s[0] - t_kill:.1f} s after the kill, {s[3]} after {s[1] - s[0]:.1f} s" for s in slow)
               + "); "
               f"latency p50 {percentile(latencies, 50) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms, "
               f"max {max(latencies or [0]) * 1000:.0f} ms; first 503 "
               f"{((first_503 - t_kill) if first_503 else float('nan')):.2f} s after the kill")

        log_text = open(server.log, errors="replace").read()
        unanswered = [s for s in around if s[3] == 0 or s[1] - s[0] >= STATEMENT_TIMEOUT]
        described = []
        for s in unanswered:
            logged = f'"request_id":"{s[4]}"' in log_text
            described.append(f"{s[2]} {s[4]} sent {t_kill - s[0]:.2f} s before the kill, no answer after "
                             f"{s[1] - s[0]:.0f} s ({s[5][:60]}), {'in' if logged else 'not in'} the server's request log")
        record("B requests in flight when PostgreSQL died get an answer (503, not a hang)",
               not unanswered and not stuck and all(code == 503 or 200 <= code < 300 for code in around_codes),
               f"{len(around)} in flight at the kill answered {around_codes}" + (": " + "; ".join(described) if described else "")
               + f"; once the load was over the server still had {stuck} requests in flight "
               f"(medrec_http_requests_in_flight, {t_stuck:.0f} s after the kill)")
        others = {k: v for k, v in all_codes.items() if k not in ("2xx", 503, 0)}
        zeros_elsewhere = [s for s in samples if s[3] == 0 and s not in unanswered]
        if zeros_elsewhere:
            others["no answer"] = "; ".join(
                f"{s[2]} {s[4]} sent {s[0] - t_kill:+.1f} s from the kill, {s[5][:40]} after {s[1] - s[0]:.0f} s"
                for s in zeros_elsewhere[:4])
        record("B no 500 (no answer other than 2xx or 503) in the whole run", not others and not zeros_elsewhere and joined,
               load.summary(t_start, t_end) + f"; codes {all_codes} ({len(unanswered)} unanswered counted above); "
               f"sample errors { {str(k): v[:100] for k, v in list(load.errors.items())[:4]} }")

        # A poll sent while PostgreSQL was down must not say "ready" before it is back: 503, or a
        # 200 answered only once it is back (an outage shorter than the probe's 3 s, as with the
        # watchdog, is held rather than reported).
        during = [(t, st, d) for t, st, d in readiness if t_kill + 0.5 < t < t_pg]
        overlapping = [(t, st, d) for t, st, d in readiness if t < t_pg and t + d > t_kill + 0.5]
        ready_codes = {}
        for _, st, _ in during:
            ready_codes[st] = ready_codes.get(st, 0) + 1
        false_ready = [(t, st, d) for t, st, d in overlapping if st != 503 and not (st == 200 and t + d >= t_pg)]
        ready_slowest = max((d for _, _, d in overlapping), default=float("nan"))
        slowest_start = max(overlapping, key=lambda r: r[2])[0] - t_kill if overlapping else float("nan")
        record("B /health/ready never answers 200 while PostgreSQL is down (503 once its 3 s database check gives up)",
               len(overlapping) > 0 and not false_ready and ready_slowest < 10.0,
               f"{len(overlapping)} polls overlapping the outage, {len(false_ready)} of them answered 200 before "
               f"PostgreSQL was back; "
               f"{len(during)} readiness polls sent during the {t_pg - t_kill:.1f} s outage (one at a time, every "
               f"0.25 s after the previous answer): {ready_codes}; slowest answer overlapping the outage "
               f"{ready_slowest:.1f} s (sent {slowest_start:+.1f} s from the kill)")

        after_tail = [s for s in samples if s[0] >= t_tail]
        tail_ok = sum(1 for s in after_tail if 200 <= s[3] < 300)
        failures_after = sum(1 for s in samples if t_ok and s[0] >= t_ok and not 200 <= s[3] < 300)
        ready_end = http("GET", f"{server.base}/health/ready")[0]
        same_process = server.process.poll() is None and server.process.pid == medrec_pid
        record("B medrec serves again by itself once PostgreSQL is back (no restart)",
               t_ok is not None and same_process and ready_end == 200 and tail_ok == len(after_tail) and len(after_tail) > 0,
               f"first 2xx {((t_ok - t_pg) if t_ok else float('nan')):.2f} s after PostgreSQL was back "
               f"({((t_ok - t_kill) if t_ok else float('nan')):.1f} s after the kill); {failures_after} failures after "
               f"the first success; last 2 s of load {tail_ok}/{len(after_tail)} 2xx; same medrec process "
               f"{same_process}; /health/ready {ready_end}")
        timings.append(("B: PostgreSQL down (kill to pg_ctl start done)", t_pg - t_kill))
        if t_ok:
            timings.append(("B: PostgreSQL back to first acknowledged write", t_ok - t_pg))

        check_data("B", server, token, load)
        stopped_cleanly("B", server)
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build/debug/medrec"))
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of write load (the kill is in the middle)")
    parser.add_argument("--outage", type=float, default=35.0,
                        help="B: seconds of load after the kill before the script checks that PostgreSQL is back "
                             "(medrec's watchdog restarts it within about 2 s; 35 s, longer than the 30 s statement "
                             "timeout, shows a request held that long; 5 is quicker)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--only", choices=["a", "b"])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (data, logs)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the embedded cluster runs as the postgres user and psql is run through runuser")
    args.bin = os.path.abspath(args.bin)
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"no medrec binary at {args.bin}")
    if not os.path.isdir(os.path.join(os.path.dirname(args.bin), "medical-records_Server.resources")):
        sys.exit(f"medical-records_Server.resources is missing beside {args.bin}")

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    t_all = time.monotonic()
    work = tempfile.mkdtemp(prefix="medrec-crash.")
    os.chmod(work, 0o755)  # the postgres user must traverse to the cluster
    run = uuid.uuid4().hex[:8]
    print(f"crash test {run}: {args.bin}, work directory {work}", flush=True)
    try:
        for name, part in (("a", part_a), ("b", part_b)):
            if args.only in (None, name):
                t0 = time.monotonic()
                try:
                    part(args, work, run)
                except KeyboardInterrupt:
                    raise
                except Exception as error:  # a broken step is a failure, not a crash without a summary
                    record(f"{name.upper()} harness", False, f"{type(error).__name__}: {error}")
                timings.append((f"part {name.upper()} in all", time.monotonic() - t0))
    except KeyboardInterrupt as error:
        record("harness", False, f"interrupted ({error})")
    finally:
        if args.keep:
            print(f"kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print("\nSummary (%.1f s in all):" % (time.monotonic() - t_all))
    for what, seconds in timings:
        print(f"  {seconds:7.1f} s  {what}")
    for name, state, detail in results:
        print(f"  {state:5} {name}")
    passed = sum(1 for r in results if r[1] == "PASS")
    failed = sum(1 for r in results if r[1] == "FAIL")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
