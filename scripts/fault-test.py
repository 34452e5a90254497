#!/usr/bin/env python3
"""Fault tests: a slow or locked database, a connection storm, a full disk, key-ring faults.
Stdlib only; run as root (the embedded cluster runs as `postgres`, psql through runuser, tmpfs mounts).

  scripts/fault-test.py [--bin PATH] [--only slow|storm|disk|keyring] [--keep]

Builds nothing: --bin is an existing medrec (default .build/debug/medrec) with its
medical-records_Server.resources bundle beside it. Each part uses a fresh data directory under /tmp
with the embedded PostgreSQL (see scripts/crash-test.py for the crash-durability tests).

  slow     MEDREC_STATEMENT_TIMEOUT_MS=3000, pool 12. First one Patient's row is locked by a psql
           session (SELECT ... FOR UPDATE): an update of it must get 503 after about the timeout
           while other reads go on. Then a psql transaction holds LOCK TABLE resource IN ACCESS
           EXCLUSIVE MODE while 40 threads send FHIR reads, searches and creates for 12 s: every
           answer must be a 503 OperationOutcome within timeout + 5 s, never a 500 or a hang;
           /health/live must answer. The lock is released: reads and creates must succeed within a
           few seconds, also under 40 threads and still 15 s later, and none of the creates that
           were refused is stored (by their identifiers).
  storm    One client keeps reading while 3000 idle TCP connections, 500 half-open requests
           (a partial request line and headers) and 50 slowloris connections (a header line a
           second) are held for 15 s: the client must see no error and p99 < 2 s. The server's open
           files (/proc/PID/fd) are counted before, during and after; which storm sockets the
           server closed by itself, and when, is reported.
  disk     The PostgreSQL data directory is moved onto a 200 MB tmpfs (a loop-mounted ext4 file if
           tmpfs cannot be mounted; SKIP if neither). Phase 1: the filesystem is filled, and FHIR
           creates with large sealed narratives and reads run for 10 s: creates must get 503 (never
           500, no hang), medrec must keep running; once the filler is removed writes must succeed
           again by themselves. Phase 2 (medrec restarted): filled again, a psql session switches
           WAL segments until PostgreSQL cannot create one (it PANICs and stops): medrec must answer
           503 at once and serve again once space is back. Finally medrec is restarted: nothing
           acknowledged may be lost, and the cluster must need no repair.
  keyring  Data is written under the development key file, which is then copied to an explicit
           MEDREC_ENCRYPTION_KEY_FILE (MEDREC_MODE=production). Each fault: key file missing,
           corrupt JSON, mode 644 and 640, must stop `medrec serve` with exit != 0 and one line
           naming the problem and quoting no key material; a ring without the key the rows need
           must refuse those rows (no plaintext in the answer); the development key file deleted
           must not silently start on a new key. Finally the whole database (pg_dump) and the raw
           cluster files are searched for the sealed values in plain text.

Prints PASS/FAIL/SKIP lines with figures, a summary and 'N passed, N failed'; exits 1 if anything
failed. Processes, mounts and temporary directories are removed at the end, also on error or Ctrl-C
(--keep keeps the directories, with the server and PostgreSQL logs).
"""
import argparse
import base64
import json
import os
import pwd
import random
import resource
import selectors
import shutil
import signal
import socket
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
START_TIMEOUT = 300.0   # seconds for medrec to listen (first start: initdb and migrations)
SLOW_TIMEOUT = 3.0      # MEDREC_STATEMENT_TIMEOUT_MS in part slow, seconds
POOL_SIZE = 12          # MEDREC_DATABASE_POOL_SIZE default

results = []   # (name, "PASS"|"FAIL"|"SKIP", detail)
cleanups = []  # callables run in reverse order at the end (servers, psql sessions, mounts)


def record(name, ok, detail, skip=False):
    state = "SKIP" if skip else ("PASS" if ok else "FAIL")
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


def fhir_headers(token, request_id=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json",
               "Accept": "application/fhir+json"}
    if request_id:
        headers["X-Request-Id"] = request_id
    return headers


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latency_text(seconds):
    return (f"p50 {percentile(seconds, 50) * 1000:.0f} ms, p99 {percentile(seconds, 99) * 1000:.0f} ms, "
            f"max {max(seconds or [float('nan')]) * 1000:.0f} ms")


def count_by(items, key):
    counts = {}
    for item in items:
        k = key(item)
        counts[k] = counts.get(k, 0) + 1
    return counts


def outcome_issue(body):
    """'code: diagnostics' of the first issue of an OperationOutcome body, or None."""
    try:
        doc = json.loads(body)
        issue = doc["issue"][0] if doc.get("resourceType") == "OperationOutcome" else None
        return f"{issue.get('code')}: {issue.get('diagnostics', '')}" if issue else None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None


# MARK: - Processes and the embedded cluster

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


def alive(pid):
    info = proc_info(pid)
    return info is not None and info[1] != "Z"


def cluster_pids(pgdata, postmaster):
    """The postmaster, its children and any process naming the data directory; zombies excluded."""
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


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class Postmaster:
    """The lines of postmaster.pid (pid, data directory, port, socket directory, status)."""

    def __init__(self, pgdata):
        with open(os.path.join(pgdata, "postmaster.pid")) as f:
            lines = [line.strip() for line in f.read().split("\n")]
        self.pid = int(lines[0])
        self.pgdata = lines[1]
        self.port = int(lines[3])
        self.socket_dir = lines[4]


def psql_command(pm, app="fault-test"):
    return ["runuser", "-u", "postgres", "--", "env", f"PGAPPNAME={app}", f"{PG_BIN}/psql", "-X", "-q", "-At",
            "-F", "|", "-v", "ON_ERROR_STOP=1", "-h", pm.socket_dir, "-p", str(pm.port), "-U", "medrec", "-d", "medrec"]


def psql(pm, sql, timeout=120):
    out = subprocess.run(psql_command(pm), input=sql, text=True, capture_output=True, timeout=timeout, cwd="/")
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()[:500]}")
    return [line.split("|") for line in out.stdout.splitlines() if line]


class PsqlSession:
    """A psql process kept open in the background, fed through stdin: it holds a transaction (and
    its locks) between the statements the test sends. Its progress is read from pg_stat_activity."""

    def __init__(self, pm, app):
        self.pm, self.app = pm, app
        self.process = subprocess.Popen(psql_command(pm, app), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, cwd="/")
        cleanups.append(self.close)

    def send(self, sql):
        self.process.stdin.write(sql + "\n")
        self.process.stdin.flush()

    def wait_state(self, state, contains="", timeout=20):
        """Waits until the session's backend is in `state` after a statement containing `contains`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"psql session {self.app} exited: {self.process.stderr.read()[:300]}")
            rows = psql(self.pm, f"SELECT state, query FROM pg_stat_activity WHERE application_name = '{self.app}'")
            if any(r[0] == state and contains in "|".join(r[1:]) for r in rows):
                return
            time.sleep(0.1)
        raise RuntimeError(f"psql session {self.app} did not reach '{state}' after '{contains}'")

    def close(self):
        if self.process.poll() is None:
            try:
                self.send("ROLLBACK;\n\\q")
                self.process.stdin.close()
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                self.process.kill()
                self.process.wait()


class Server:
    """One data directory and the medrec processes serving it."""

    def __init__(self, binary, work, name, env=None):
        self.binary = binary
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.metrics_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MEDREC_")}
        self.env.update(env or {})
        self.process = None
        self.starts = 0
        self.log = None
        cleanups.append(self.stop)

    @property
    def pgdata(self):
        location = os.path.join(self.data, "postgres.location")
        root = open(location).read().strip() if os.path.exists(location) else os.path.join(self.data, "postgres")
        return os.path.join(root, "data")

    @property
    def pg_log(self):
        return os.path.join(os.path.dirname(self.pgdata), "postgres.log")

    def medrec(self, *args):
        out = subprocess.run([self.binary, *args, "--data-dir", self.data], text=True, capture_output=True,
                             timeout=300, env=self.env)
        if out.returncode != 0:
            raise RuntimeError(f"medrec {' '.join(args[:2])} failed: {out.stderr.strip()[-500:]}")
        return out.stdout

    def add_client(self):
        out = self.medrec("client", "add", "--name", "faults", "--scopes", "system/*.cruds")
        return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)

    def launch(self):
        self.starts += 1
        self.log = os.path.join(self.dir, f"server-{self.starts}.log")
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([self.binary, "serve", "--data-dir", self.data, "--port", str(self.port),
                                             "--metrics-port", str(self.metrics_port)], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log_text(self):
        return open(self.log, errors="replace").read() if self.log and os.path.exists(self.log) else ""

    def start(self):
        """Starts `medrec serve`; returns seconds until it printed 'listening on'."""
        t0 = time.monotonic()
        self.launch()
        while time.monotonic() - t0 < START_TIMEOUT:
            if "listening on" in self.log_text():
                return time.monotonic() - t0
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"medrec serve did not listen (exit {self.process.poll()}); log tail:\n{self.log_text()[-2000:]}")

    def try_start(self, timeout=120):
        """Starts `medrec serve` expecting it may refuse: (exit code or None if it listens, seconds, log)."""
        t0 = time.monotonic()
        self.launch()
        while time.monotonic() - t0 < timeout:
            code = self.process.poll()
            if code is not None:
                return code, time.monotonic() - t0, self.log_text()
            if "listening on" in self.log_text():
                return None, time.monotonic() - t0, self.log_text()
            time.sleep(0.1)
        return None, time.monotonic() - t0, self.log_text()

    def in_flight(self, timeout=10):
        """medrec_http_requests_in_flight from the metrics listener (None if unreadable)."""
        status, _, body = http("GET", f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=timeout)
        for line in body.decode(errors="replace").splitlines() if status == 200 else []:
            if line.startswith("medrec_http_requests_in_flight"):
                return int(float(line.split()[-1]))
        return None

    def terminate(self, timeout=60):
        """SIGTERM: (exit status or None if it had to be SIGKILLed, seconds)."""
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
        if not os.path.isdir(self.pgdata):
            return
        try:
            pm = Postmaster(self.pgdata)
        except (OSError, ValueError, IndexError):
            pm = None
        if pm and alive(pm.pid):
            subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_ctl", "-D", self.pgdata, "-m", "immediate",
                            "-w", "-t", "60", "-s", "stop"], cwd="/", capture_output=True, timeout=90)
        for pid in cluster_pids(self.pgdata, pm.pid if pm else 0):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_token(server, creds):
    basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    for _ in range(20):
        status, _, body = http("POST", f"{server.base}/auth/token", "grant_type=client_credentials",
                               {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
        if status == 200:
            return json.loads(body)["access_token"]
        time.sleep(1)
    raise RuntimeError(f"token: {status} {body[:300]!r}")


def patient(system, value, secret=None, narrative_bytes=0):
    """A Patient with a unique identifier; `secret` goes into sealed elements (telecom, address, text)."""
    doc = {"resourceType": "Patient", "identifier": [{"system": system, "value": value}],
           "name": [{"family": f"Fault{value.replace('-', '')}", "given": ["Test"]}], "gender": "unknown",
           "birthDate": "1980-01-01"}
    if secret:
        doc["telecom"] = [{"system": "phone", "value": secret["phone"]}]
        doc["address"] = [{"line": [secret["street"]], "city": "Springfield"}]
        doc["text"] = {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{secret["note"]}</div>'}
    if narrative_bytes:
        filler = "".join(random.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(narrative_bytes))
        doc["text"] = {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{filler}</div>'}
    return doc


def create(server, token, doc, timeout=60):
    """(status, id or None, seconds, body)."""
    t0 = time.monotonic()
    status, _, body = http("POST", f"{server.base}/fhir/Patient", doc, fhir_headers(token), timeout=timeout)
    rid = json.loads(body).get("id") if 200 <= status < 300 else None
    return status, rid, time.monotonic() - t0, body


def search_identifier(server, token, system, value, timeout=30):
    """Ids of the Patients holding the identifier, or None if the search failed."""
    query = urllib.parse.quote(f"{system}|{value}")
    status, _, body = http("GET", f"{server.base}/fhir/Patient?identifier={query}", None, fhir_headers(token),
                           timeout=timeout)
    if status != 200:
        return None
    return [e["resource"]["id"] for e in json.loads(body).get("entry", [])
            if e.get("search", {}).get("mode", "match") == "match"]


def stored_identifiers(server, system):
    """identifier values of the Patients of `system` in the resource table (SQL), with their count."""
    rows = psql(Postmaster(server.pgdata), "SELECT content->'identifier'->0->>'value', count(*) FROM resource "
                f"WHERE type = 'Patient' AND content->'identifier'->0->>'system' = '{system}' GROUP BY 1")
    return {value: int(n) for value, n in rows}


def log_lines(text, *needles, limit=4):
    """Up to `limit` distinct server log lines containing any needle, shortened (no PHI in them)."""
    found = []
    for line in text.splitlines():
        if any(n in line for n in needles):
            short = line[:300]
            if short not in found:
                found.append(short)
        if len(found) >= limit:
            break
    return found


class Sampler:
    """Threads sending requests in a loop; samples are (t0, t1, kind, status, detail)."""

    def __init__(self):
        self.samples = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = []

    def add(self, t0, kind, status, detail=""):
        with self.lock:
            self.samples.append((t0, time.monotonic(), kind, status, detail))

    def run(self, count, body):
        self.threads = [threading.Thread(target=body, args=(n,), daemon=True) for n in range(count)]
        for t in self.threads:
            t.start()

    def finish(self, timeout=60):
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        return sum(1 for t in self.threads if t.is_alive())


# MARK: - Part slow

def part_slow(args, work, run):
    print("\n== slow: statement timeout 3 s, a locked row, then a locked resource table ==", flush=True)
    server = Server(args.bin, work, "slow", {"MEDREC_STATEMENT_TIMEOUT_MS": str(int(SLOW_TIMEOUT * 1000))})
    creds = server.add_client()
    note(f"server up in {server.start():.1f} s on {server.base}")
    token = client_token(server, creds)
    system = f"urn:medrec:fault-test:{run}:slow"
    ids = []
    for i in range(6):
        status, rid, _, body = create(server, token, patient(system, f"seed-{i}"))
        if status != 201:
            raise RuntimeError(f"seed create: {status} {body[:200]!r}")
        ids.append(rid)
    bound = SLOW_TIMEOUT + 5.0
    pm = Postmaster(server.pgdata)

    # A locked row: an update waits on it until the statement timeout; other requests go on.
    holder = PsqlSession(pm, "fault-test-row")
    holder.send(f"BEGIN; SELECT id FROM resource WHERE type = 'Patient' AND id = '{ids[0]}' FOR UPDATE;")
    holder.wait_state("idle in transaction", "FOR UPDATE")
    status, _, body = http("GET", f"{server.base}/fhir/Patient/{ids[0]}", None, fhir_headers(token))
    doc = json.loads(body) if status == 200 else {}
    doc["gender"] = "female"
    answers = {}

    def update():
        t0 = time.monotonic()
        code, _, payload = http("PUT", f"{server.base}/fhir/Patient/{ids[0]}", doc, fhir_headers(token), timeout=60)
        answers["put"] = (code, time.monotonic() - t0, payload)
    worker = threading.Thread(target=update)
    worker.start()
    time.sleep(0.3)
    reads = []
    while worker.is_alive() and len(reads) < 200:
        t0 = time.monotonic()
        code, _, _ = http("GET", f"{server.base}/fhir/Patient/{ids[1 + len(reads) % 5]}", None, fhir_headers(token))
        reads.append((code, time.monotonic() - t0))
    worker.join()
    holder.close()
    code, took, payload = answers["put"]
    read_codes = count_by(reads, lambda r: r[0])
    record("slow: an update of a row locked by another transaction gets 503 after the statement timeout; other "
           "reads go on meanwhile",
           code == 503 and SLOW_TIMEOUT - 0.5 <= took <= bound and set(read_codes) == {200},
           f"PUT {code} after {took:.2f} s ({outcome_issue(payload) or payload[:100]!r}); {len(reads)} reads of other "
           f"Patients meanwhile {read_codes}, {latency_text([r[1] for r in reads])}")

    # The resource table locked: no FHIR read or write can reach it.
    holder = PsqlSession(pm, "fault-test-table")
    holder.send("BEGIN; LOCK TABLE resource IN ACCESS EXCLUSIVE MODE;")
    holder.wait_state("idle in transaction", "LOCK TABLE")
    t_lock = time.monotonic()
    load = Sampler()
    created = []  # (identifier, status)
    lock_seconds, threads = 12.0, 40

    def worker_body(n):
        i = 0
        while not load.stop.is_set():
            i += 1
            kind = ("read", "search", "create")[(n + i) % 3]
            t0 = time.monotonic()
            if kind == "read":
                status, _, body = http("GET", f"{server.base}/fhir/Patient/{ids[i % len(ids)]}", None,
                                       fhir_headers(token), timeout=45)
            elif kind == "search":
                status, _, body = http("GET", f"{server.base}/fhir/Patient?identifier="
                                       + urllib.parse.quote(f"{system}|seed-{i % len(ids)}"), None, fhir_headers(token),
                                       timeout=45)
            else:
                value = f"locked-{n}-{i}"
                status, _, body = http("POST", f"{server.base}/fhir/Patient", patient(system, value),
                                       fhir_headers(token), timeout=45)
                with load.lock:
                    created.append((value, status))
            detail = outcome_issue(body) or body[:100].decode(errors="replace")
            load.add(t0, kind, status, detail)

    health = []

    def poll_health():
        while not load.stop.is_set():
            for path in ("/health/live", "/health/ready"):
                t0 = time.monotonic()
                status, _, body = http("GET", server.base + path, timeout=20)
                health.append((path, status, time.monotonic() - t0, body[:80].decode(errors="replace")))
            time.sleep(0.5)
    poller = threading.Thread(target=poll_health, daemon=True)
    poller.start()
    load.run(threads, worker_body)
    time.sleep(lock_seconds)
    stuck = load.finish(timeout=60)  # no new requests; the ones in flight come back (or time out at 45 s)
    poller.join(timeout=30)
    in_flight = server.in_flight()
    t_release = time.monotonic()
    holder.close()

    samples = load.samples
    codes = count_by(samples, lambda s: s[3])
    lat = [s[1] - s[0] for s in samples]
    slow = [s for s in samples if s[1] - s[0] > bound]
    bad = [s for s in samples if s[3] != 503]
    not_outcome = [s for s in samples if s[3] == 503 and not s[4].startswith(("transient", "too-costly"))]
    details = count_by(samples, lambda s: f"{s[3]} {s[4][:70]}")
    record(f"slow: with the resource table locked, {threads} threads (pool {POOL_SIZE}) get 503 OperationOutcomes "
           f"within timeout + 5 s = {bound:.0f} s, no 500, no hang",
           samples and not bad and not slow and not not_outcome and stuck == 0,
           f"{len(samples)} requests in {lock_seconds:.0f} s of lock {count_by(samples, lambda s: s[2])}: codes {codes}; "
           f"answers {dict(sorted(details.items(), key=lambda kv: -kv[1])[:4])}; {latency_text(lat)}; "
           f"{len(slow)} slower than {bound:.0f} s ("
           + ", ".join(f"{s[2]} {s[3]} after {s[1] - s[0]:.1f} s, sent {s[0] - t_lock:.1f} s into the lock"
                       for s in sorted(slow, key=lambda s: s[0] - s[1])[:3]) + f"); {stuck} threads still waiting 60 s after the load stopped; "
           f"{in_flight} requests still in flight in the server before the release")
    live = [h for h in health if h[0] == "/health/live"]
    ready = [h for h in health if h[0] == "/health/ready"]
    record("slow: /health/live answers 200 while the table is locked",
           live and all(h[1] == 200 for h in live) and max(h[2] for h in live) < 2.0,
           f"{len(live)} polls {count_by(live, lambda h: h[1])}, {latency_text([h[2] for h in live])}; "
           f"/health/ready meanwhile {count_by(ready, lambda h: f'{h[1]} {h[3]}')}, "
           f"{latency_text([h[2] for h in ready])}")

    # Released: the pool is not left exhausted.
    first = {}
    deadline = t_release + 60
    k = 0
    while time.monotonic() < deadline and len(first) < 2:
        k += 1
        status, _, _ = http("GET", f"{server.base}/fhir/Patient/{ids[k % len(ids)]}", None, fhir_headers(token), timeout=30)
        if status == 200:
            first.setdefault("read", time.monotonic() - t_release)
        status, _, _, _ = create(server, token, patient(system, f"after-{k}"), timeout=30)
        if status == 201:
            first.setdefault("create", time.monotonic() - t_release)
            created.append((f"after-{k}", status))
        else:
            created.append((f"after-{k}", status))
            time.sleep(0.1)
    def burst(label, seconds=3.0):
        """`threads` threads of reads and creates for `seconds`: the Sampler."""
        sampler = Sampler()

        def body(n):
            i = 0
            while not sampler.stop.is_set():
                i += 1
                t0 = time.monotonic()
                if i % 2:
                    status, _, payload = http("GET", f"{server.base}/fhir/Patient/{ids[i % len(ids)]}", None,
                                              fhir_headers(token), timeout=30)
                    kind = "read"
                else:
                    value = f"{label}-{n}-{i}"
                    status, _, _, payload = create(server, token, patient(system, value), timeout=30)
                    with sampler.lock:
                        created.append((value, status))
                    kind = "create"
                sampler.add(t0, kind, status,
                            "" if status < 300 else (outcome_issue(payload) or payload[:100].decode(errors="replace")))
        sampler.run(threads, body)
        time.sleep(seconds)
        sampler.finish()
        return sampler

    after = burst("burst")
    after_codes = count_by(after.samples, lambda s: s[3])
    after_details = count_by([s for s in after.samples if s[3] >= 300], lambda s: f"{s[2]} {s[3]} {s[4][:80]}")
    time.sleep(10)  # long after the release: is anything still refused? Sequential requests may all land on one
    later = []      # healthy connection; only concurrent ones use every connection of the pool.
    for k in range(12):
        status, _, _ = http("GET", f"{server.base}/fhir/Patient/{ids[k % len(ids)]}", None, fhir_headers(token))
        later.append(("sequential read", status))
    later += [(s[2], s[3]) for s in burst("later").samples]
    pg_errors = sum(1 for line in open(os.path.join(os.path.dirname(server.pgdata), "postgres.log"), errors="replace")
                    if "ERROR:" in line)
    record("slow: once the lock is released, reads and creates succeed again within a few seconds (pool not left "
           "exhausted, nothing left failing)",
           "read" in first and "create" in first and max(first.values()) < 5.0 and set(after_codes) <= {200, 201}
           and all(st in (200, 201) for _, st in later),
           f"first read 200 {first.get('read', float('nan')):.2f} s, first create 201 "
           f"{first.get('create', float('nan')):.2f} s after the release; then {threads} threads for 3 s: "
           f"{len(after.samples)} requests {after_codes}, {latency_text([s[1] - s[0] for s in after.samples])}"
           + (f"; refusals {after_details}" if after_details else "")
           + f"; 15 s after the release, 12 sequential reads then {threads} threads for 3 s again: "
           f"{count_by(later, lambda r: f'{r[0]} {r[1]}')}; "
           f"PostgreSQL logged {pg_errors} ERROR lines in the whole run")

    # Nothing half written: refused creates are absent, acknowledged ones present exactly once.
    stored = stored_identifiers(server, system)
    statuses = dict(created)
    refused = [v for v, s in created if s != 201]
    acked = [v for v, s in created if s == 201]
    present_refused = [v for v in refused if v in stored]
    missing = [v for v in acked if stored.get(v) != 1]
    sample = refused[:25]
    found_by_search = [v for v in sample if search_identifier(server, token, system, v) != []]
    history = psql(Postmaster(server.pgdata), "SELECT count(*) FROM resource_history h JOIN resource r USING "
                   f"(resource_key) WHERE r.content->'identifier'->0->>'system' = '{system}' AND h.version_id = 1")
    record("slow: no refused create was stored; every acknowledged one is stored once",
           not present_refused and not missing and not found_by_search and refused,
           f"{len(refused)} creates refused (status {count_by(refused, lambda v: statuses[v])}), "
           f"{len(present_refused)} of them in the resource table {present_refused[:3]}, {len(sample)} searched by "
           f"identifier: {len(found_by_search)} found; {len(acked)} acknowledged, {len(missing)} missing or doubled; "
           f"{len(stored)} identifiers stored in all, {history[0][0]} version-1 history rows")
    code, took = server.terminate()
    record("slow: medrec stops on SIGTERM afterwards", code == 0, f"exit {code} after {took:.1f} s")


# MARK: - Part storm

def listen_overflows():
    """TcpExt ListenOverflows of this network namespace (connects dropped because an accept queue was full)."""
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split()[1:], values.split()[1:])).get("ListenOverflows", 0))
    return 0


def part_storm(args, work, run):
    print("\n== storm: 3000 idle, 500 half-open and 50 slowloris connections around a normal client ==", flush=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    server = Server(args.bin, work, "storm")
    creds = server.add_client()
    note(f"server up in {server.start():.1f} s on {server.base}")
    token = client_token(server, creds)
    system = f"urn:medrec:fault-test:{run}:storm"
    ids = [create(server, token, patient(system, f"s{i}"))[1] for i in range(5)]
    pid = server.process.pid
    fd_before, rss_before = fd_count(pid), rss_mb(pid)

    client = Sampler()

    def normal(_n):
        i = 0
        while not client.stop.is_set():
            i += 1
            t0 = time.monotonic()
            if i % 3:
                status, _, _ = http("GET", f"{server.base}/fhir/Patient/{ids[i % len(ids)]}", None, fhir_headers(token),
                                    timeout=30)
            else:
                status, _, _ = http("GET", f"{server.base}/fhir/Patient?identifier="
                                    + urllib.parse.quote(f"{system}|s{i % len(ids)}"), None, fhir_headers(token), timeout=30)
            client.add(t0, "read", status)
            time.sleep(0.02)
    client.run(1, normal)
    time.sleep(5)
    t_storm = time.monotonic()

    overflows_before = listen_overflows()
    storm = {"idle": [], "half-open": [], "slowloris": []}
    failures = {}
    lock = threading.Lock()
    port = server.port

    def opener(kind, count, first_bytes):
        for _ in range(count):
            sock = socket.socket()
            sock.settimeout(10)
            try:
                sock.connect(("127.0.0.1", port))
                if first_bytes:
                    sock.sendall(first_bytes)
                sock.setblocking(False)
                with lock:
                    storm[kind].append(sock)
            except OSError as error:
                sock.close()
                with lock:
                    failures[f"{kind} {type(error).__name__}"] = failures.get(f"{kind} {type(error).__name__}", 0) + 1
    partial = b"GET /fhir/Patient?name=x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer abc"
    slow_start = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    plan = [("idle", 375, b"")] * 8 + [("half-open", 125, partial)] * 4 + [("slowloris", 50, slow_start)]
    openers = [threading.Thread(target=opener, args=p) for p in plan]
    for t in openers:
        t.start()
    for t in openers:
        t.join()
    t_open = time.monotonic() - t_storm
    overflows = listen_overflows() - overflows_before
    note(f"opened {', '.join(f'{len(v)} {k}' for k, v in storm.items())} in {t_open:.1f} s; failures "
         f"{failures or 'none'}; listen queue overflows meanwhile (SYNs dropped and retried): {overflows}")

    # Hold the storm; trickle the slowloris headers; watch which sockets the server closes.
    closed = {}  # kind -> [seconds after the storm began]
    answered = {}  # kind -> how many of those got bytes (an HTTP answer) rather than a bare close
    selector = selectors.DefaultSelector()
    for kind, socks in storm.items():
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ, kind)
    fds, hold = [], 15.0
    trickled = 0
    while time.monotonic() - t_storm < t_open + hold:
        for sock in list(storm["slowloris"]):
            try:
                sock.send(b"X")  # one byte of a header line that never ends
                trickled += 1
            except OSError:
                pass
        for key, _ in selector.select(timeout=1.0):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            # EOF, a reset or an answer (e.g. 400/408): either way the server gave up waiting on it.
            closed.setdefault(key.data, []).append(time.monotonic() - t_storm)
            if data:
                answered[key.data] = answered.get(key.data, 0) + 1
            selector.unregister(key.fileobj)
        fds.append(fd_count(pid))
    rss_during = rss_mb(pid)
    during = [s for s in client.samples if s[0] >= t_storm]
    t_close = time.monotonic()
    for socks in storm.values():
        for sock in socks:
            sock.close()
    selector.close()
    fd_after, settle = None, None
    while time.monotonic() - t_close < 20:
        fd_after = fd_count(pid)
        if fd_after is not None and fd_after <= fd_before + 5:
            settle = time.monotonic() - t_close
            break
        time.sleep(0.2)
    time.sleep(3)
    client.finish()
    before = [s for s in client.samples if s[0] < t_storm]
    after = [s for s in client.samples if s[0] >= t_close + (settle or 0)]
    opened = sum(len(v) for v in storm.values())
    record("storm: all 3550 storm connections were accepted (no refusal)", opened == 3550 and not failures,
           f"{opened} opened in {t_open:.1f} s from 13 threads, failures {failures or 'none'}; the kernel counted "
           f"{overflows} listen queue overflows (backlog 256: connects retried after 1 s)")
    d_lat, b_lat = [s[1] - s[0] for s in during], [s[1] - s[0] for s in before]
    d_bad = count_by([s for s in during if s[3] != 200], lambda s: s[3])
    record("storm: the normal client is served throughout (no error, p99 < 2 s)",
           during and not d_bad and percentile(d_lat, 99) < 2.0 and server.process.poll() is None,
           f"before: {len(before)} reads {count_by(before, lambda s: s[3])}, {latency_text(b_lat)}; during the storm "
           f"({time.monotonic() - t_storm:.0f} s): {len(during)} reads, errors {d_bad or 'none'}, {latency_text(d_lat)}; "
           f"after: {len(after)} reads {count_by(after, lambda s: s[3])}, {latency_text([s[1] - s[0] for s in after])}")
    record("storm: the server's open files rise with the storm and fall back when its sockets close",
           settle is not None and max(f for f in fds if f is not None) >= fd_before + opened - len(sum(closed.values(), [])) - 50,
           f"/proc/{pid}/fd: {fd_before} before, peak {max(f for f in fds if f is not None)} during, {fd_after} "
           f"{'%.1f s' % settle if settle is not None else 'not back within 20 s'} after the storm's sockets closed; "
           f"RSS {rss_before:.0f} MB before, {rss_during:.0f} MB during, {rss_mb(pid):.0f} MB after")
    summary = ", ".join(f"{kind}: {len(closed.get(kind, []))} of {len(storm[kind])}"
                        + (f" (first after {min(closed[kind]):.1f} s, {answered.get(kind, 0)} with an answer)"
                           if closed.get(kind) else "") for kind in storm)
    note(f"closed (or answered) by the server itself within {t_open + hold:.0f} s of the storm: {summary}; "
         f"{trickled} slowloris bytes trickled")
    results.append(("storm: observation", "NOTE", f"server-side closes within {t_open + hold:.0f} s: {summary}"))
    code, took = server.terminate()
    record("storm: medrec stops on SIGTERM afterwards", code == 0, f"exit {code} after {took:.1f} s")


# MARK: - Part disk

def mount_small(directory, size_mb):
    """Mounts a small filesystem at `directory` for the postgres user: tmpfs, else a loop-mounted ext4
    image. Returns (kind, unmount callable) or (None, reason)."""
    owner = pwd.getpwnam("postgres")
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700,uid={owner.pw_uid},gid={owner.pw_gid}",
                          "tmpfs", directory], capture_output=True, text=True)
    if out.returncode == 0:
        return "tmpfs", lambda: subprocess.run(["umount", "-l", directory], capture_output=True)
    reasons = [f"tmpfs: {out.stderr.strip()}"]
    image = directory.rstrip("/") + ".img"
    try:
        with open(image, "wb") as f:
            f.truncate(size_mb * 1024 * 1024)
        out = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", image], capture_output=True, text=True)
        if out.returncode == 0:
            out = subprocess.run(["mount", "-o", "loop", image, directory], capture_output=True, text=True)
            if out.returncode == 0:
                os.chown(directory, owner.pw_uid, owner.pw_gid)
                os.chmod(directory, 0o700)
                shutil.rmtree(os.path.join(directory, "lost+found"), ignore_errors=True)
                return "ext4 on a loop device", lambda: (subprocess.run(["umount", "-d", directory], capture_output=True),
                                                         os.remove(image))
        reasons.append(f"loop: {out.stderr.strip()}")
    except OSError as error:
        reasons.append(f"loop: {error}")
    if os.path.exists(image):
        os.remove(image)
    return None, "; ".join(reasons)


def fill(directory):
    """Writes a file until the filesystem is full; returns (path, bytes written)."""
    path = os.path.join(directory, "fault-test-filler")
    written = 0
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 20, 1 << 12, 1 << 9):
            block = b"\0" * chunk
            while True:
                try:
                    written += f.write(block)
                except OSError:
                    break
    return path, written


def part_disk(args, work, run):
    print("\n== disk: the database's filesystem fills up (data files, then WAL) ==", flush=True)
    # A short shutdown grace: a medrec that cannot finish its requests is SIGKILLed sooner.
    server = Server(args.bin, work, "disk", {"MEDREC_SHUTDOWN_GRACE_SECONDS": "5"})
    creds = server.add_client()
    note(f"first start (initdb) {server.start():.1f} s")
    token = client_token(server, creds)
    system = f"urn:medrec:fault-test:{run}:disk"
    acked = {}  # identifier -> id
    refused = []
    for i in range(5):
        status, rid, _, _ = create(server, token, patient(system, f"pre-{i}"))
        acked[f"pre-{i}"] = rid
    code, _ = server.terminate()
    if code != 0:
        raise RuntimeError(f"medrec did not stop cleanly before the move (exit {code})")

    pgdata = server.pgdata
    original = pgdata + ".orig"
    os.rename(pgdata, original)
    os.mkdir(pgdata, 0o700)
    kind, unmount = mount_small(pgdata, 200)
    if kind is None:
        os.rmdir(pgdata)
        os.rename(original, pgdata)
        record("disk: a full disk under PostgreSQL", True,
               f"cannot be arranged here: no filesystem could be mounted ({unmount}); run the part on a host or VM "
               "where root may mount tmpfs or loop devices", skip=True)
        return
    cleanups.append(unmount)
    subprocess.run(["cp", "-a", original + "/.", pgdata], check=True)
    shutil.rmtree(original)
    usage = shutil.disk_usage(pgdata)
    note(f"PGDATA on {kind} of {usage.total >> 20} MB ({usage.used >> 20} MB used by the cluster); the PostgreSQL "
         "log stays outside it")
    server.start()
    pm = Postmaster(pgdata)
    token = client_token(server, creds)
    for i in range(20):  # every pool connection prepares its statements before the disk fills
        http("GET", f"{server.base}/fhir/Patient/{acked[f'pre-{i % 5}']}", None, fhir_headers(token))
    status, rid, _, _ = create(server, token, patient(system, "mounted"))
    acked["mounted"] = rid

    # Phase 1: no room for data files. Writes that extend a table fail (SQLSTATE 53100).
    filler, size = fill(pgdata)
    t_full = time.monotonic()
    note(f"phase 1: filled with {size >> 20} MB; {shutil.disk_usage(pgdata).free} bytes free; 4 threads create "
         "Patients with a 20 kB sealed narrative, 1 thread reads, for 10 s")
    load = Sampler()

    def writer(n):
        i = 0
        while not load.stop.is_set():
            i += 1
            value = f"full-{n}-{i}"
            t0 = time.monotonic()
            status, rid, _, body = create(server, token, patient(system, value, narrative_bytes=20000), timeout=15)
            load.add(t0, "create", status, outcome_issue(body) or body[:100].decode(errors="replace"))
            with load.lock:
                if status == 201:
                    acked[value] = rid
                else:
                    refused.append(value)
            if status != 201:
                time.sleep(0.1)

    def reader(_n):
        i = 0
        while not load.stop.is_set():
            i += 1
            t0 = time.monotonic()
            status, _, body = http("GET", f"{server.base}/fhir/Patient/{acked[f'pre-{i % 5}']}", None,
                                   fhir_headers(token), timeout=15)
            load.add(t0, "read", status, "" if status == 200 else outcome_issue(body) or body[:100].decode(errors="replace"))
            time.sleep(0.1)
    load.threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(4)]
    load.threads.append(threading.Thread(target=reader, args=(0,), daemon=True))
    for t in load.threads:
        t.start()
    time.sleep(10)
    load.finish(timeout=30)
    ready = http("GET", f"{server.base}/health/ready", timeout=10)
    pg_text = open(server.pg_log, errors="replace").read() if os.path.exists(server.pg_log) else ""
    creates = [s for s in load.samples if s[2] == "create"]
    reads = [s for s in load.samples if s[2] == "read"]
    hung = [s for s in load.samples if s[3] == 0]
    first_hang = min((s[0] - t_full for s in hung), default=None)
    answers = count_by(load.samples, lambda s: f"{s[2]} {s[3]} {s[4][:60]}")
    extend = log_lines(pg_text, "could not extend file", limit=1)
    record("disk, data files full: creates are refused with 503 (never 500, no hang), medrec keeps running",
           creates and all(s[3] in (201, 503) for s in creates) and any(s[3] == 503 for s in creates)
           and server.process.poll() is None,
           f"{len(creates)} creates in 10 s: {count_by(creates, lambda s: s[3])} (status 0: no answer within 15 s), "
           f"{latency_text([s[1] - s[0] for s in creates])}; first unanswered request sent "
           f"{'-' if first_hang is None else f'{first_hang:.1f} s'} after the fill; answers "
           f"{dict(sorted(answers.items(), key=lambda kv: -kv[1])[:5])}; PostgreSQL: {extend[0][24:160] if extend else '-'}")
    record("disk, data files full: reads answer 200 (or 503 when their AuditEvent cannot be stored), never 500, no hang",
           reads and all(s[3] in (200, 503) for s in reads),
           f"{len(reads)} reads {count_by(reads, lambda s: f'{s[3]} {s[4][:50]}'.strip())}, "
           f"{latency_text([s[1] - s[0] for s in reads])}; /health/ready then {ready[0]} {ready[2][:70].decode(errors='replace')}")

    os.remove(filler)
    t_free = time.monotonic()
    back = None
    while time.monotonic() - t_free < 20:
        value = f"freed-{len(refused)}"
        status, rid, _, _ = create(server, token, patient(system, value), timeout=10)
        if status == 201:
            acked[value] = rid
            back = time.monotonic() - t_free
            break
        refused.append(value)
        time.sleep(0.5)
    in_flight = server.in_flight(timeout=5)
    rows = psql(pm, "SELECT pid, state, coalesce(wait_event, ''), extract(epoch FROM now() - state_change)::int "
                    "FROM pg_stat_activity WHERE datname = 'medrec' AND backend_type = 'client backend' "
                    "AND pid <> pg_backend_pid()")
    idle = [r for r in rows if r[1] == "idle"]
    record("disk, data files full: once space is freed, writes succeed again by themselves",
           back is not None,
           f"first create 201 {'never within 20 s' if back is None else f'{back:.2f} s'} after the filler was removed; "
           f"medrec_http_requests_in_flight: "
           f"{'no answer (the /metrics scrape queries the database through the same pool)' if in_flight is None else in_flight}; its {len(rows)} PostgreSQL sessions: {len(idle)} idle "
           f"(for {min((int(r[3]) for r in idle), default=0)}-{max((int(r[3]) for r in idle), default=0)} s); "
           f"medrec log: {log_lines(server.log_text(), 'unreachable', 'reachable again', limit=2)}")
    code, took = server.terminate(timeout=20)
    if code != 0:
        note(f"medrec did not exit within 20 s of SIGTERM (grace 5 s): SIGKILLed after {took:.1f} s; the next start "
             "attaches to the running cluster")

    # Phase 2: no room for WAL. PostgreSQL PANICs when it cannot create a WAL segment.
    listening = server.start()
    token = client_token(server, creds)
    status, rid, _, _ = create(server, token, patient(system, "phase2"))
    if status == 201:
        acked["phase2"] = rid
    pm = Postmaster(pgdata)
    filler, size = fill(pgdata)
    t_full = time.monotonic()
    note(f"phase 2: medrec restarted ({listening:.1f} s); filled again ({size >> 20} MB); a psql session switches "
         "WAL segments until PostgreSQL needs a new one")
    for _ in range(6):
        try:
            psql(pm, "SELECT pg_switch_wal(); BEGIN; SELECT txid_current(); COMMIT;", timeout=30)
        except RuntimeError:
            break
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(pm.pid):
        time.sleep(0.2)
    panic_seen = not alive(pm.pid)
    outage = []
    for i in range(10):
        t0 = time.monotonic()
        status, _, body = http("GET", f"{server.base}/fhir/Patient/{acked['pre-0']}", None, fhir_headers(token), timeout=15)
        outage.append((t0, time.monotonic(), "read", status, outcome_issue(body) or ""))
        t0 = time.monotonic()
        value = f"wal-{i}"
        status, rid, _, body = create(server, token, patient(system, value), timeout=15)
        outage.append((t0, time.monotonic(), "create", status, outcome_issue(body) or ""))
        if status == 201:
            acked[value] = rid
        else:
            refused.append(value)
    pg_text = open(server.pg_log, errors="replace").read()
    chain = [line[24:150] for line in log_lines(pg_text[pg_text.rfind("starting PostgreSQL"):], "PANIC", "terminated by signal",
                                                  "could not write to file", "shutting down due to", "database system is shut down",
                                                  limit=5)]
    record("disk, WAL full: PostgreSQL stops; medrec answers 503 at once (no 500, no hang) and keeps running",
           panic_seen and all(s[3] == 503 for s in outage) and max(s[1] - s[0] for s in outage) < 5
           and server.process.poll() is None,
           f"postmaster {'gone' if panic_seen else 'still running'} {time.monotonic() - t_full:.1f} s after the fill; "
           f"PostgreSQL log: {chain}; 20 requests meanwhile {count_by(outage, lambda s: f'{s[2]} {s[3]} {s[4][:45]}')}, "
           f"{latency_text([s[1] - s[0] for s in outage])}")
    os.remove(filler)
    # medrec's watchdog tries to start the cluster again with a backoff of 2 s doubling to 30 s
    # (each try failed while the disk was full), so the next try comes within 30 s of the space
    # being back; then crash recovery and the pool's reconnect.
    t_freed = time.monotonic()
    status, back_after = 0, None
    while time.monotonic() - t_freed < 60:
        status, _, _ = http("GET", f"{server.base}/fhir/Patient/{acked['pre-0']}", None, fhir_headers(token), timeout=15)
        if status == 200:
            back_after = time.monotonic() - t_freed
            break
        time.sleep(1)
    ready = http("GET", f"{server.base}/health/ready", timeout=10)
    try:
        new_pm = Postmaster(pgdata)
        restarted = f"postmaster {new_pm.pid} (was {pm.pid}) running: {alive(new_pm.pid)}"
    except (OSError, ValueError, IndexError):
        restarted = "no postmaster.pid"
    record("disk, WAL full: once space is freed, medrec serves again without a restart (its watchdog starts PostgreSQL)",
           status == 200 and server.process.poll() is None,
           (f"first 200 read {back_after:.1f} s after the filler was removed" if back_after is not None
            else f"no 200 read within 60 s of the filler's removal (last {status})")
           + f"; /health/ready {ready[0]} {ready[2][:60].decode(errors='replace')}; {restarted}; same medrec process: "
           f"{server.process.poll() is None}")

    # Restart medrec: PostgreSQL's own crash recovery, nothing acknowledged lost.
    code, took = server.terminate(timeout=20)
    server.stop()
    listening = server.start()
    token = client_token(server, creds)
    pg_text = open(server.pg_log, errors="replace").read()
    recovery = [line[24:130] for line in log_lines(pg_text[pg_text.rfind("starting PostgreSQL"):], "redo done",
                                                     "not properly shut down", "PANIC", "FATAL", limit=3)]
    problems = []
    for value, rid in acked.items():
        status, _, body = http("GET", f"{server.base}/fhir/Patient/{rid}", None, fhir_headers(token), timeout=30)
        if status != 200 or json.loads(body)["identifier"][0]["value"] != value:
            problems.append(f"{value}: {status}")
    stored = stored_identifiers(server, system)
    unacked_stored = [v for v in refused if v in stored]
    relfile = extend[0].split('"')[1].rsplit("/", 1)[-1] if extend else "0"
    relation = psql(Postmaster(pgdata), "SELECT c.relname || coalesce(' (TOAST of ' || o.relname || ')', '') FROM pg_class c "
                    f"LEFT JOIN pg_class o ON o.reltoastrelid = c.oid WHERE c.relfilenode = {int(relfile)}")
    status, _, _, _ = create(server, token, patient(system, "restarted"))
    record("disk: after a restart of medrec nothing acknowledged is lost and PostgreSQL needed no repair",
           not problems and status == 201 and stored.keys() >= acked.keys(),
           f"old medrec exit {code} after {took:.1f} s; restarted and listening in {listening:.1f} s; PostgreSQL: "
           f"{recovery}; {len(acked)} acknowledged creates read back, {len(problems)} problems {problems[:3]}; "
           f"{len(unacked_stored)} of {len(refused)} refused creates stored anyway; a new create {status}; the file "
           f"that could not grow in phase 1 was {relation[0][0] if relation else relfile}")
    code, took = server.terminate()
    record("disk: medrec stops on SIGTERM afterwards", code == 0, f"exit {code} after {took:.1f} s")


# MARK: - Part keyring

def part_keyring(args, work, run):
    print("\n== keyring: key file missing, corrupt, readable by others, a key removed, the development key lost ==",
          flush=True)
    server = Server(args.bin, work, "keyring")
    creds = server.add_client()
    note(f"first start (initdb) {server.start():.1f} s, with the development key file")
    token = client_token(server, creds)
    system = f"urn:medrec:fault-test:{run}:keyring"
    tag = uuid.uuid4().hex[:10]
    secrets = {"phone": f"+1 555 {random.randrange(10**7):07d}", "street": f"{tag} Hidden Lane",
               "note": f"Sealed narrative {tag}"}
    values = [secrets["street"], secrets["note"], secrets["phone"]]
    ids = []
    for i in range(3):
        status, rid, _, body = create(server, token, patient(system, f"k{i}", secrets))
        if status != 201:
            raise RuntimeError(f"create: {status} {body[:200]!r}")
        ids.append(rid)
    status, _, body = http("GET", f"{server.base}/fhir/Patient/{ids[0]}", None, fhir_headers(token))
    record("keyring: sealed elements read back under the development key", status == 200 and secrets["note"] in body.decode(),
           f"GET {status}; telecom, address and text sealed (docs/security.md: names stay plain, for search)")
    server.terminate()

    dev_file = os.path.join(server.data, "encryption-keys.json")
    key_dir = os.path.join(server.dir, "keys")
    os.mkdir(key_dir, 0o700)
    key_file = os.path.join(key_dir, "keys.json")
    shutil.copy2(dev_file, key_file)
    os.chmod(key_file, 0o600)
    original = json.load(open(key_file))
    materials = list(original["keys"].values()) + [original["blindIndexKey"]]
    server.env.update({"MEDREC_MODE": "production", "MEDREC_ENCRYPTION_KEY_FILE": key_file})

    def leaks(text):
        return [m[:6] + "..." for m in materials if m in text] + [v for v in values if v in text]

    def refused_case(name, detail_expected):
        code, took, log = server.try_start()
        lines = [line for line in log.splitlines() if line.startswith("medrec:")]
        leftovers = cluster_pids(server.pgdata, 0)
        if code is None:
            server.terminate()
        ok = code not in (None, 0) and len(lines) == 1 and detail_expected in lines[0] and not leaks(log) and not leftovers
        record(f"keyring: {name}: serve refuses to start with one line naming the problem",
               ok, f"exit {code if code is not None else 'none: it listens'} after {took:.1f} s; "
               f"{lines[-1][:220] if lines else 'no medrec: line; log tail ' + repr(log[-200:])}; key material or "
               f"sealed values in its output: {leaks(log) or 'none'}; postgres processes left: {len(leftovers)}")

    code, took, _ = server.try_start()
    if code is not None:
        raise RuntimeError(f"medrec did not start on the copied key file (exit {code})")
    status, _, body = http("GET", f"{server.base}/fhir/Patient/{ids[0]}", None, fhir_headers(token))
    server.terminate()
    note(f"the same keys as MEDREC_ENCRYPTION_KEY_FILE, production mode: GET {status}")

    os.rename(key_file, key_file + ".away")
    refused_case("key file missing", key_file)
    record("keyring: key file missing: no new key file was created in its place", not os.path.exists(key_file),
           f"{key_file} exists afterwards: {os.path.exists(key_file)}")
    os.rename(key_file + ".away", key_file)

    good = open(key_file).read()
    with open(key_file, "w") as f:
        f.write(good[:len(good) // 2])
    refused_case("corrupt JSON (truncated)", "must be JSON")
    with open(key_file, "w") as f:
        f.write(good)

    for mode in (0o644, 0o640):
        os.chmod(key_file, mode)
        refused_case(f"key file mode {mode:o}", f"permissions {mode:o}")
    os.chmod(key_file, 0o600)

    # A ring without the key the rows were sealed with: the server starts (the ring is valid),
    # the rows under the missing key must be refused, new rows sealed under the ring's key.
    new_key = base64.b64encode(os.urandom(32)).decode()
    materials.append(new_key)
    with open(key_file, "w") as f:
        json.dump({"active": "k2", "keys": {"k2": new_key}, "blindIndexKey": original["blindIndexKey"]}, f)
    os.chmod(key_file, 0o600)
    code, took, log = server.try_start()
    if code is None:
        token = client_token(server, creds)
        status, _, body = http("GET", f"{server.base}/fhir/Patient/{ids[0]}", None, fhir_headers(token))
        search_status, _, search_body = http("GET", f"{server.base}/fhir/Patient?identifier="
                                             + urllib.parse.quote(f"{system}|k1"), None, fhir_headers(token))
        new_status, new_id, _, _ = create(server, token, patient(system, "k-new", secrets))
        new_read = http("GET", f"{server.base}/fhir/Patient/{new_id}", None, fhir_headers(token))[0] if new_id else None
        server.terminate()
        log = server.log_text()
        critical = log_lines(log, "sealed data failed to open", limit=1)
        record("keyring: a key the rows need removed from the ring: those rows are refused, not served, with a log line "
               "naming the reason",
               status >= 400 and search_status >= 400 and not leaks(body.decode(errors="replace"))
               and not leaks(search_body.decode(errors="replace")) and critical and not leaks(log),
               f"serve started ({took:.1f} s; it does not compare the ring with the stored key ids); read {status} "
               f"({outcome_issue(body)}), search {search_status} ({outcome_issue(search_body)}); new create {new_status} "
               f"(sealed under k2) read back {new_read}; log: {critical}; key material or sealed values in answers or "
               f"log: {leaks(body.decode(errors='replace') + search_body.decode(errors='replace') + log) or 'none'}")
        status_out = subprocess.run([server.binary, "keys", "status", "--data-dir", server.data], env=server.env,
                                    capture_output=True, text=True, timeout=120)
        note("medrec keys status: " + " / ".join(status_out.stdout.strip().splitlines()[:6]))
    else:
        record("keyring: a key the rows need removed from the ring", code not in (None, 0) and not leaks(log),
               f"serve refused to start: exit {code}; {log.strip().splitlines()[-1][:200] if log.strip() else ''}")
    with open(key_file, "w") as f:
        f.write(good)
    os.chmod(key_file, 0o600)

    # The development key file deleted (no key configured), in production and in development mode.
    del server.env["MEDREC_ENCRYPTION_KEY_FILE"]
    os.rename(dev_file, dev_file + ".away")
    dev_new_id = None
    for mode in ("production", "development"):
        server.env["MEDREC_MODE"] = mode
        code, took, log = server.try_start()
        generated = os.path.exists(dev_file)
        name = f"keyring: development key file deleted after data was written ({mode} mode): serve refuses to start"
        if code is None:
            token = client_token(server, creds)
            status, _, body = http("GET", f"{server.base}/fhir/Patient/{ids[0]}", None, fhir_headers(token))
            new_status, dev_new_id, _, _ = create(server, token, patient(system, "k-dev2", secrets))
            server.terminate()
            key_ids = psql_offline(server, "SELECT key_id, count(*) FROM resource WHERE type = 'Patient' GROUP BY 1 ORDER BY 1")
            record(name, False,
                   f"serve started anyway ({took:.1f} s) and generated a new development key file "
                   f"(created: {generated}; log: {log_lines(log, 'DEVELOPMENT', limit=1)}); old rows: read "
                   f"{status} ({outcome_issue(body)}), no plaintext in it: {not leaks(body.decode(errors='replace'))}; a new "
                   f"create got {new_status}, sealed under the new key; rows per key id now {key_ids}")
            if os.path.exists(dev_file):
                os.remove(dev_file)
        else:
            lines = [line for line in log.splitlines() if line.startswith("medrec:")]
            record(name, code != 0 and len(lines) == 1 and not leaks(log) and not generated,
                   f"exit {code} after {took:.1f} s, no key file created: {not generated}: "
                   f"{lines[-1][:240] if lines else log[-200:]}")
    if os.path.exists(dev_file):
        os.remove(dev_file)
    os.rename(dev_file + ".away", dev_file)

    # No sealed value in plain text anywhere: the whole database, and the cluster's files.
    server.env.pop("MEDREC_MODE", None)
    server.start()
    token = client_token(server, creds)
    status_old = http("GET", f"{server.base}/fhir/Patient/{ids[0]}", None, fhir_headers(token))[0]
    status_new = http("GET", f"{server.base}/fhir/Patient/{dev_new_id}", None, fhir_headers(token))[0] if dev_new_id else None
    record("keyring: with the original development key file put back, the old rows read again",
           status_old == 200,
           f"old row {status_old}" + (f"; the row written meanwhile under the regenerated key: {status_new}, "
                                      "unreadable for good once that key file is replaced" if dev_new_id else ""))
    pm = Postmaster(server.pgdata)
    dump = subprocess.run(["runuser", "-u", "postgres", "--", f"{PG_BIN}/pg_dump", "--data-only", "-h", pm.socket_dir,
                           "-p", str(pm.port), "-U", "medrec", "-d", "medrec"], capture_output=True, timeout=120, cwd="/")
    server.terminate()
    dumped = dump.stdout.decode(errors="replace")
    in_dump = [v for v in values if v in dumped]
    raw_hits = []
    needles = [v.encode() for v in values]
    for directory, _, files in os.walk(server.pgdata):
        for name in files:
            try:
                blob = open(os.path.join(directory, name), "rb").read()
            except OSError:
                continue
            raw_hits += [f"{os.path.relpath(os.path.join(directory, name), server.pgdata)}: {n.decode()[:12]}..."
                         for n in needles if n in blob]
    control = patient(system, "k0")["name"][0]["family"]  # names are plain by policy: the searches' control
    family_plain = control in dumped
    raw_control = any(control.encode() in open(os.path.join(d, n), "rb").read()
                      for d, _, files in os.walk(server.pgdata) for n in files if os.path.isfile(os.path.join(d, n)))
    record("keyring: no sealed value (telecom, address, narrative) in plain text in the database or its files",
           dump.returncode == 0 and not in_dump and not raw_hits and family_plain and raw_control,
           f"pg_dump --data-only ({len(dump.stdout) >> 10} kB, exit {dump.returncode}): sealed values found {in_dump or 'none'} "
           f"(control: the plain family name {control} found: {family_plain}); raw files under PGDATA incl. WAL: "
           f"{raw_hits[:3] or 'none'} (control found there: {raw_control})")


def psql_offline(server, sql):
    """A query on the embedded cluster while medrec is stopped: starts medrec briefly."""
    server.start()
    try:
        return psql(Postmaster(server.pgdata), sql)
    finally:
        server.terminate()


# MARK: - Main

PARTS = (("slow", part_slow), ("storm", part_storm), ("disk", part_disk), ("keyring", part_keyring))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build/debug/medrec"))
    parser.add_argument("--only", choices=[name for name, _ in PARTS])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (data, logs)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the embedded cluster runs as the postgres user; psql, pg_dump and mount need root")
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
    work = tempfile.mkdtemp(prefix="medrec-faults.")
    os.chmod(work, 0o755)  # the postgres user must traverse to the cluster
    run = uuid.uuid4().hex[:8]
    print(f"fault test {run}: {args.bin}, work directory {work}", flush=True)
    timings = []
    try:
        for name, part in PARTS:
            if args.only in (None, name):
                t0 = time.monotonic()
                try:
                    part(args, work, run)
                except KeyboardInterrupt:
                    raise
                except Exception as error:  # a broken step is a failure, not a crash without a summary
                    record(f"{name}: harness", False, f"{type(error).__name__}: {error}")
                finally:
                    while cleanups:
                        try:
                            cleanups.pop()()
                        except Exception as error:
                            note(f"cleanup: {error}")
                timings.append((name, time.monotonic() - t0))
    except KeyboardInterrupt as error:
        record("harness", False, f"interrupted ({error})")
    finally:
        while cleanups:
            try:
                cleanups.pop()()
            except Exception as error:
                note(f"cleanup: {error}")
        if args.keep:
            print(f"kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)

    print("\nSummary (%.1f s in all):" % (time.monotonic() - t_all))
    for name, seconds in timings:
        print(f"  {seconds:7.1f} s  part {name}")
    for name, state, detail in results:
        print(f"  {state:5} {name}" + (f": {detail}" if state == "NOTE" else ""))
    passed = sum(1 for r in results if r[1] == "PASS")
    failed = sum(1 for r in results if r[1] == "FAIL")
    skipped = sum(1 for r in results if r[1] == "SKIP")
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
