#!/usr/bin/env python3
"""Operations test of the local cluster (deploy/local-cluster.sh), stdlib only. Run as root.

  deploy/test-local-cluster.py [--bin PATH] [--dir DIR] [--keep] [--duration S]

Uses a running cluster in DIR, or brings one up with --bin (and takes it down again at the end
unless --keep). Then:
  (a) write load (POST /patients) through HAProxy while replica 1 is SIGKILLed and restarted:
      every acknowledged (201) write must be readable afterwards; the window in which clients saw
      failures and the time HAProxy kept replica 1 in rotation must be a few seconds at most;
  (b) a logout on replica 1 is honoured by replica 2 at the next request (ports used directly);
  (c) the streaming standby has every acknowledged write once it replayed the primary's LSN;
  (g) MEDREC_DATABASE_READ_URL: with the standby's replay delayed 3 s, a client's search right
      after its own write (through either replica) finds it, another client's search is served
      by the standby and does not yet, and does once the standby has replayed the write;
  (e) a SIGTERM (graceful stop) of replica 2 under write load costs no request;
  (f) the reference HAProxy and nginx files (ports and certificate paths changed only) serve HTTPS,
      redirect HTTP and pass X-Request-Id through;
  (d) Prometheus shows both replicas up and medrec_http_requests_total increasing — only when
      the binary has --metrics-port; otherwise the line "SKIPPED: binary has no --metrics-port".
Prints a summary with timings and 'N passed, N failed, N skipped'; exits 1 if anything failed.
"""
import argparse
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER = os.path.join(HERE, "local-cluster.sh")
STRICT_SHUTDOWN = False
MAX_FAILURE_WINDOW = 5.0  # seconds: the most a dead replica may cost clients / stay in rotation

results = []  # (name, "PASS"|"FAIL"|"SKIPPED", detail)


def record(name, ok, detail, expected_failure=False):
    state = "SKIPPED" if ok is None else ("PASS" if ok else ("XFAIL" if expected_failure else "FAIL"))
    results.append((name, state, detail))
    print(f"{state}: {name}: {detail}", flush=True)


def cluster(*args, capture=True):
    return subprocess.run([CLUSTER, *args], check=True, text=True,
                          stdout=subprocess.PIPE if capture else None).stdout


def http(method, url, body=None, headers=None, timeout=10):
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
    except Exception as error:  # connection refused/reset, timeout
        return 0, {}, str(error).encode()


def psql(env, port, sql):
    out = subprocess.run(
        ["runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-At",
         "-v", "ON_ERROR_STOP=1", "-h", env["PG_SOCKET_DIR"], "-p", str(port), "-U", "postgres", "-d", "medrec"],
        input=sql, check=True, text=True, stdout=subprocess.PIPE)
    return out.stdout.strip()


def haproxy_servers(env):
    """{'r1': (status, total sessions), 'r2': …} from the stats CSV."""
    status, _, body = http("GET", f"http://127.0.0.1:{env['LB_STATS_PORT']}/stats;csv", timeout=2)
    servers = {}
    if status == 200:
        for line in body.decode().splitlines():
            fields = line.split(",")
            if len(fields) > 18 and fields[0] == "medrec" and fields[1] in ("r1", "r2"):
                servers[fields[1]] = (fields[17], int(fields[7] or 0))
    return servers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin")
    parser.add_argument("--dir", default=os.environ.get("MEDREC_CLUSTER_DIR", "/tmp/medrec-cluster"))
    parser.add_argument("--keep", action="store_true", help="leave a cluster this run started running")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--strict-shutdown", action="store_true",
                        help="count a failed request during a graceful stop as a failure even before the server has the shutdown contract")
    parser.add_argument("--down-seconds", type=float, default=6.0, help="how long replica 1 stays dead")
    args = parser.parse_args()
    os.environ["MEDREC_CLUSTER_DIR"] = args.dir
    global STRICT_SHUTDOWN
    STRICT_SHUTDOWN = args.strict_shutdown
    t_all = time.monotonic()

    started_here = False
    ports_file = os.path.join(args.dir, "ports.env")
    if os.path.exists(ports_file):
        # A directory left by an interrupted run holds ports.env but nothing runs: say so
        # instead of failing on the first request.
        recorded = dict(line.strip().split("=", 1) for line in open(ports_file) if "=" in line)
        try:
            socket.create_connection(("127.0.0.1", int(recorded.get("PG_PRIMARY_PORT", "0"))), timeout=2).close()
        except OSError:
            sys.exit(f"{args.dir} holds a cluster that is not running: "
                     f"MEDREC_CLUSTER_DIR={args.dir} deploy/local-cluster.sh down, or pass another --dir")
    else:
        if not args.bin:
            sys.exit("no cluster running in %s: pass --bin PATH to bring one up" % args.dir)
        t0 = time.monotonic()
        cluster("up", "--bin", args.bin, capture=False)
        started_here = True
        print(f"cluster up in {time.monotonic() - t0:.1f} s", flush=True)
    env = dict(line.split("=", 1) for line in cluster("env").splitlines() if "=" in line)
    lb = f"http://127.0.0.1:{env['LB_PORT']}"
    r1 = f"http://127.0.0.1:{env['MEDREC1_PORT']}"
    r2 = f"http://127.0.0.1:{env['MEDREC2_PORT']}"
    run = uuid.uuid4().hex[:8]

    try:
        # Accounts: a system client and a patient user, made with the command line on the primary's database.
        auth = {"Authorization": f"Bearer {system_token(lb, f'ops-test-{run}')}"}
        email, password = f"ops-{run}@cluster.example", f"ops test passphrase {run}"
        subprocess.run([CLUSTER, "medrec", "user", "add", "--email", email, "--password-stdin", "--role", "patient",
                        "--first-name", "Ops", "--last-name", f"Patient{run}"],
                       input=password, text=True, check=True, stdout=subprocess.DEVNULL)

        test_failover(env, lb, auth, run, args)
        test_logout(r1, r2, email, password)
        test_graceful_stop(env, lb, auth, run)
        test_standby(env)
        test_read_replica(env, lb, r1, r2, auth, run)
        test_metrics(env, lb, auth)
        test_reference_proxies(env)
    except Exception as error:  # a broken step is a failure, not a crash without a summary
        record("harness", False, f"{type(error).__name__}: {error}")
    finally:
        if started_here and not args.keep:
            cluster("down", capture=False)

    print("\nSummary (%.1f s in all):" % (time.monotonic() - t_all))
    for name, state, detail in results:
        print(f"  {state:8} {name}: {detail}")
    passed = sum(1 for r in results if r[1] == "PASS")
    failed = sum(1 for r in results if r[1] == "FAIL")
    skipped = sum(1 for r in results if r[1] in ("SKIPPED", "XFAIL"))
    xfail = sum(1 for r in results if r[1] == "XFAIL")
    if xfail:
        print(f"({xfail} expected failure(s) counted as skipped: they wait for server support)")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed else 0)


acknowledged = {}  # id -> lastName of every 201


def test_failover(env, lb, auth, run, args):
    stop = threading.Event()
    samples = []  # (start, end, status)
    lock = threading.Lock()

    def writer(n):
        i = 0
        while not stop.is_set():
            i += 1
            last = f"Load{run}"
            body = {"firstName": f"W{n}x{i}", "lastName": last, "dateOfBirth": "1980-01-01", "gender": "female",
                    "contact": {"email": f"w{n}.{i}.{run}@example.org", "phone": "+1 555 0100", "other": []}}
            t0 = time.monotonic()
            status, _, payload = http("POST", f"{lb}/patients", body, auth, timeout=15)
            t1 = time.monotonic()
            with lock:
                samples.append((t0, t1, status))
                if status == 201:
                    acknowledged[json.loads(payload)["id"]] = (last, body["contact"]["email"])

    states = []  # (time, r1 status, r1 sessions)

    def watcher():
        while not stop.is_set():
            servers = haproxy_servers(env)
            if "r1" in servers:
                states.append((time.monotonic(), *servers["r1"]))
            time.sleep(0.1)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(args.threads)]
    threads.append(threading.Thread(target=watcher))
    t_start = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(3)
    t_kill = time.monotonic()
    cluster("kill-replica", "1")
    time.sleep(args.down_seconds)
    t_restart = time.monotonic()
    cluster("start-replica", "1")
    t_started = time.monotonic()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(t > t_started and s == "UP" for t, s, _ in states):
        time.sleep(0.1)
    t_up = next((t for t, s, _ in states if t > t_started and s == "UP"), None)
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    t_end = time.monotonic()

    total = len(samples)
    ok = sum(1 for s in samples if s[2] == 201)
    failures = [s for s in samples if s[2] != 201]
    window = (max(s[1] for s in failures) - min(s[0] for s in failures)) if failures else 0.0
    t_down = next((t for t, s, _ in states if t > t_kill and s.startswith("DOWN")), None)
    in_rotation = (t_down - t_kill) if t_down else float("inf")
    sessions_after = [n for t, s, n in states if t > (t_up or t_end)]
    served_again = len(sessions_after) > 1 and sessions_after[-1] > sessions_after[0]
    codes = {}
    for s in failures:
        codes[s[2]] = codes.get(s[2], 0) + 1
    detail = (f"{total} POSTs in {t_end - t_start:.1f} s ({total / (t_end - t_start):.0f}/s, {args.threads} threads), "
              f"{ok} acknowledged, {len(failures)} failed {codes or ''}; client-visible failure window {window:.2f} s; "
              f"HAProxy marked r1 DOWN {in_rotation:.2f} s after SIGKILL; r1 restarted in {t_started - t_restart:.1f} s, "
              f"back UP {((t_up - t_started) if t_up else float('nan')):.2f} s later, served again: {served_again}")
    record("(a) failover: dead replica leaves rotation within %.0f s" % MAX_FAILURE_WINDOW,
           window <= MAX_FAILURE_WINDOW and in_rotation <= MAX_FAILURE_WINDOW and t_up is not None and served_again,
           detail)

    # Every acknowledged write is readable (through the balancer, both replicas) and decrypted.
    missing, wrong = [], []
    ids = list(acknowledged)
    t0 = time.monotonic()

    def reader(chunk):
        for rid in chunk:
            status, _, payload = http("GET", f"{lb}/patients/{rid}", None, auth)
            if status != 200:
                missing.append((rid, status))
                continue
            doc = json.loads(payload)
            if doc.get("lastName") != acknowledged[rid][0] or doc.get("contact", {}).get("email") != acknowledged[rid][1]:
                wrong.append(rid)

    readers = [threading.Thread(target=reader, args=(ids[i::8],)) for i in range(8)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    record("(a) every acknowledged write is readable", not missing and not wrong and len(ids) > 0,
           f"{len(ids)} read back in {time.monotonic() - t0:.1f} s, {len(missing)} missing {missing[:3]}, "
           f"{len(wrong)} with wrong content (sealed email checked)")


def test_graceful_stop(env, lb, auth, run):
    """(e) SIGTERM on replica 2 under write load: no client sees a failure. The server's shutdown
    grace (MEDREC_SHUTDOWN_GRACE_SECONDS: readiness 503 at once, in-flight requests finish) makes
    this hold for long requests too; short ones are covered by HAProxy retrying refused connections."""
    stop = threading.Event()
    samples = []

    def writer(n):
        i = 0
        while not stop.is_set():
            i += 1
            body = {"firstName": f"G{n}x{i}", "lastName": f"Load{run}", "dateOfBirth": "1981-02-03", "gender": "male",
                    "contact": {"email": f"g{n}.{i}.{run}@example.org", "phone": "+1 555 0101", "other": []}}
            status, _, payload = http("POST", f"{lb}/patients", body, auth, timeout=15)
            samples.append(status)
            if status == 201:
                acknowledged[json.loads(payload)["id"]] = (body["lastName"], body["contact"]["email"])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(2)
    t0 = time.monotonic()
    cluster("stop-replica", "2")
    stopped = time.monotonic() - t0
    time.sleep(2)
    cluster("start-replica", "2")
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join()
    failed = [s for s in samples if s != 201]
    # Strict once the server has the shutdown contract (it comes with the metrics listener) or
    # when asked; until then a failure is reported as XFAIL: not a pass, not a failure.
    strict = STRICT_SHUTDOWN or env.get("METRICS_SUPPORTED") == "yes"
    detail = f"{len(samples)} POSTs, {len(failed)} failed {sorted(set(failed))}; replica 2 exited {stopped:.2f} s after SIGTERM, restarted"
    if failed and not strict:
        detail += " (XFAIL: needs MEDREC_SHUTDOWN_GRACE_SECONDS support in the server; --strict-shutdown makes this a failure)"
    record("(e) graceful stop (SIGTERM) of a replica under load: no failed request", not failed and len(samples) > 0,
           detail, expected_failure=not strict)


def test_logout(r1, r2, email, password):
    status, _, body = http("POST", f"{r1}/auth/login", {"email": email, "password": password})
    if status != 200:
        record("(b) logout on one replica honoured on the other", False, f"login on r1: {status} {body[:200]!r}")
        return
    access = json.loads(body)["accessToken"]
    bearer = {"Authorization": f"Bearer {access}"}
    before, _, _ = http("GET", f"{r2}/auth/me", None, bearer)
    out, _, _ = http("POST", f"{r1}/auth/logout", None, bearer)
    t0 = time.monotonic()
    after, _, _ = http("GET", f"{r2}/auth/me", None, bearer)
    after_r1, _, _ = http("GET", f"{r1}/auth/me", None, bearer)
    record("(b) logout on one replica honoured on the other",
           before == 200 and out in (200, 204) and after == 401 and after_r1 == 401,
           f"r2 /auth/me before logout {before}; logout on r1 {out}; r2 next request {after} "
           f"({(time.monotonic() - t0) * 1000:.0f} ms after), r1 {after_r1}")


def test_standby(env):
    lsn = psql(env, env["PG_PRIMARY_PORT"], "SELECT pg_current_wal_lsn()")
    t0 = time.monotonic()
    caught = False
    while time.monotonic() - t0 < 30:
        if psql(env, env["PG_STANDBY_PORT"], f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn") == "t":
            caught = True
            break
        time.sleep(0.05)
    lag = time.monotonic() - t0
    ids = list(acknowledged)
    values = ",".join("('%s')" % i.replace("'", "''") for i in ids) or "('none')"
    found = int(psql(env, env["PG_STANDBY_PORT"],
                     f"SELECT count(*) FROM resource r JOIN (VALUES {values}) v(id) ON r.type = 'Patient' AND r.id = v.id"))
    in_recovery = psql(env, env["PG_STANDBY_PORT"], "SELECT pg_is_in_recovery()")
    families = {v[0] for v in acknowledged.values()}
    family = families.pop() if len(families) == 1 else ""
    stored = int(psql(env, env["PG_PRIMARY_PORT"], "SELECT count(*) FROM resource WHERE type = 'Patient' "
                      f"AND content->'name'->0->>'family' = '{family}'"))
    record("(c) the standby has the writes", caught and found == len(ids) and in_recovery == "t",
           f"standby replayed primary LSN {lsn} within {lag * 1000:.0f} ms; {found}/{len(ids)} acknowledged "
           f"Patients present; standby in recovery: {in_recovery} (the primary holds {stored} of this run's "
           f"Patients: acknowledged + committed but unanswered when a replica died)")


def system_token(lb, name):
    out = cluster("medrec", "client", "add", "--name", name, "--scopes", "system/*.cruds")
    creds = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    status, _, body = http("POST", f"{lb}/auth/token", "grant_type=client_credentials",
                           {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200, f"token: {status} {body[:200]!r}"
    return json.loads(body)["access_token"]


def test_read_replica(env, lb, r1, r2, auth, run, delay=3.0):
    name = "(g) searches on the standby, read-your-writes kept"
    other = {"Authorization": f"Bearer {system_token(lb, f'ops-reader-{run}')}"}
    standby = env["PG_STANDBY_PORT"]
    # ALTER SYSTEM writes postgresql.auto.conf, which a standby may do; replay then waits `delay`
    # behind each commit, so for that long the standby visibly lacks what the primary has.
    psql(env, standby, f"ALTER SYSTEM SET recovery_min_apply_delay = '{int(delay * 1000)}ms'")
    psql(env, standby, "SELECT pg_reload_conf()")
    time.sleep(0.5)
    try:
        family = f"Replica{run}"
        fhir = {"Content-Type": "application/fhir+json", **auth}
        checks = []
        for (writes_on, reads_on) in ((r1, r2), (r2, r1)):
            family_n = f"{family}{len(checks)}"
            patient = {"resourceType": "Patient", "name": [{"family": family_n}]}
            status, _, _ = http("POST", f"{writes_on}/fhir/Patient", json.dumps(patient), fhir)
            t0 = time.monotonic()
            search = f"/fhir/Patient?family={family_n}"
            _, _, own = http("GET", f"{reads_on}{search}", None, auth)
            _, _, others = http("GET", f"{reads_on}{search}", None, other)
            own_n = len(json.loads(own).get("entry", []))
            others_n = len(json.loads(others).get("entry", []))
            seen_after = None
            while time.monotonic() - t0 < delay + 10:
                _, _, later = http("GET", f"{reads_on}{search}", None, other)
                if len(json.loads(later).get("entry", [])) == 1:
                    seen_after = time.monotonic() - t0
                    break
                time.sleep(0.1)
            checks.append((status, own_n, others_n, seen_after))
        ok = all(s == 201 and own_n == 1 and others_n == 0 and seen is not None and seen >= delay * 0.8
                 for (s, own_n, others_n, seen) in checks)
        record(name, ok, "; ".join(
            f"write on r{1 + i} {s}, the writer's search on r{2 - i} right after: {own_n} (primary), another "
            f"client's: {others_n} (standby), another client sees it after {seen if seen is None else round(seen, 1)} s "
            f"(replay delay {delay:.0f} s)" for i, (s, own_n, others_n, seen) in enumerate(checks)))
    finally:
        psql(env, standby, "ALTER SYSTEM RESET recovery_min_apply_delay")
        psql(env, standby, "SELECT pg_reload_conf()")


def prometheus_query(env, query):
    status, _, body = http("GET", f"http://127.0.0.1:{env['PROM_PORT']}/api/v1/query?"
                           + urllib.parse.urlencode({"query": query}))
    if status != 200:
        return None
    return json.loads(body)["data"]["result"]


def test_metrics(env, lb, auth):
    name = ("(d) Prometheus: both replicas up, medrec_http_requests_total increasing, database statements "
            "by kind and pool waits exported")
    if env.get("METRICS_SUPPORTED") != "yes":
        print("SKIPPED: binary has no --metrics-port", flush=True)
        record(name, None, "SKIPPED: binary has no --metrics-port")
        return
    time.sleep(4)  # two scrape intervals after the restart of replica 1
    up = prometheus_query(env, 'up{job="medrec"}') or []
    ups = {r["metric"].get("replica"): r["value"][1] for r in up}
    first = prometheus_query(env, 'sum(medrec_http_requests_total{job="medrec"})') or []
    for _ in range(50):
        http("GET", f"{lb}/fhir/metadata", None, auth)
    time.sleep(5)
    second = prometheus_query(env, 'sum(medrec_http_requests_total{job="medrec"})') or []
    v1 = float(first[0]["value"][1]) if first else None
    v2 = float(second[0]["value"][1]) if second else None
    # The database layer's figures, from the same scrapes: statements by kind and pool waits.
    kinds = prometheus_query(env, 'sum by (statement) (medrec_db_query_duration_seconds_count{job="medrec"})') or []
    statements = {r["metric"].get("statement"): float(r["value"][1]) for r in kinds}
    waits = prometheus_query(env, 'sum(medrec_db_pool_wait_seconds_count{job="medrec"})') or []
    wait_count = float(waits[0]["value"][1]) if waits else 0.0
    record(name, ups.get("r1") == "1" and ups.get("r2") == "1" and v1 is not None and v2 is not None and v2 > v1
           and len([k for k, v in statements.items() if v > 0]) >= 2 and wait_count > 0,
           f"up: {ups}; medrec_http_requests_total {v1} → {v2}; medrec_db_query_duration_seconds_count by "
           f"statement {dict(sorted(statements.items()))}; medrec_db_pool_wait_seconds_count {wait_count}")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_tls_proxy(name, https, http_port):
    """HTTPS answers through the proxy, HTTP redirects to HTTPS, X-Request-Id is passed through."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + 10
    status = 0
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"https://127.0.0.1:{https}/health/ready", headers={"X-Request-Id": "ops-test-42"})
            with urllib.request.urlopen(request, context=context, timeout=5) as response:
                status, rid, hsts = response.status, response.headers.get("X-Request-Id"), response.headers.get("Strict-Transport-Security")
                break
        except Exception:
            time.sleep(0.2)
    request = urllib.request.Request(f"https://127.0.0.1:{https}/fhir/metadata")
    with urllib.request.urlopen(request, context=context, timeout=5) as response:
        made_rid = response.headers.get("X-Request-Id")
        metadata = response.status

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    try:
        urllib.request.build_opener(NoRedirect).open(f"http://127.0.0.1:{http_port}/fhir/metadata?x=1", timeout=5)
        redirect, location = 200, None
    except urllib.error.HTTPError as error:
        redirect, location = error.code, error.headers.get("Location")
    ok = (status == 200 and rid == "ops-test-42" and bool(hsts) and metadata == 200 and bool(made_rid)
          and redirect == 301 and (location or "").startswith("https://") and (location or "").endswith("/fhir/metadata?x=1"))
    record(f"(f) {name}: TLS, HTTP→HTTPS, X-Request-Id", ok,
           f"https /health/ready {status}, client X-Request-Id echoed: {rid == 'ops-test-42'}, generated when absent: "
           f"{bool(made_rid)}, HSTS: {bool(hsts)}; http → {redirect} {location}")


def test_reference_proxies(env):
    """(f) The reference deploy/haproxy/haproxy.cfg and deploy/nginx/medrec.conf, changed only in
    ports, certificate paths and host-specific globals, in front of the cluster's two replicas."""
    tmp = tempfile.mkdtemp(prefix="medrec-proxies.")
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=fhir.example.org",
                        "-keyout", f"{tmp}/privkey.pem", "-out", f"{tmp}/fullchain.pem"], check=True, capture_output=True)
        with open(f"{tmp}/haproxy.pem", "w") as pem:
            pem.write(open(f"{tmp}/fullchain.pem").read() + open(f"{tmp}/privkey.pem").read())
        r1, r2 = env["MEDREC1_PORT"], env["MEDREC2_PORT"]

        h80, h443, hstats = free_port(), free_port(), free_port()
        cfg = open(os.path.join(HERE, "haproxy", "haproxy.cfg")).read()
        drop = ("log /dev/log", "chroot ", "stats socket", "stats timeout", "user haproxy", "group haproxy", "daemon")
        cfg = "\n".join(line for line in cfg.splitlines() if not line.strip().startswith(drop))
        cfg = (cfg.replace("bind :80", f"bind 127.0.0.1:{h80}")
               .replace("bind :443 ssl crt /etc/haproxy/certs/fhir.example.org.pem", f"bind 127.0.0.1:{h443} ssl crt {tmp}/haproxy.pem")
               .replace("127.0.0.1:8081", f"127.0.0.1:{r1}").replace("127.0.0.1:8082", f"127.0.0.1:{r2}")
               .replace("bind 127.0.0.1:8404", f"bind 127.0.0.1:{hstats}"))
        open(f"{tmp}/haproxy.cfg", "w").write(cfg + "\n")
        haproxy = subprocess.Popen(["haproxy", "-f", f"{tmp}/haproxy.cfg"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            check_tls_proxy("reference haproxy.cfg", h443, h80)
        finally:
            haproxy.terminate()
            haproxy.wait()

        n80, n443 = free_port(), free_port()
        conf = open(os.path.join(HERE, "nginx", "medrec.conf")).read()
        conf = (conf.replace("listen 80;", f"listen 127.0.0.1:{n80};").replace("listen [::]:80;", "")
                .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{n443} ssl http2;").replace("listen [::]:443 ssl http2;", "")
                .replace("/etc/ssl/medrec/fullchain.pem", f"{tmp}/fullchain.pem").replace("/etc/ssl/medrec/privkey.pem", f"{tmp}/privkey.pem")
                .replace("/var/log/nginx/medrec.access.log", f"{tmp}/access.log")
                .replace("127.0.0.1:8081", f"127.0.0.1:{r1}").replace("127.0.0.1:8082", f"127.0.0.1:{r2}"))
        open(f"{tmp}/medrec.conf", "w").write(conf)
        open(f"{tmp}/nginx.conf", "w").write(
            f"worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{ worker_connections 256; }}\n"
            f"http {{ include {tmp}/medrec.conf; }}\n")
        nginx = subprocess.Popen(["nginx", "-c", f"{tmp}/nginx.conf", "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            check_tls_proxy("reference nginx medrec.conf", n443, n80)
        finally:
            nginx.terminate()
            nginx.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
