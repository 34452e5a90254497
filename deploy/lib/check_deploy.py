#!/usr/bin/env python3
"""Static checks of the deployment files that no tool here can run (deploy/check-configs.sh).

  check_deploy.py env|dockerfile|compose|kubernetes|names

Each prints what it checked and exits 1 on the first list of problems. Needs PyYAML.
"""
import glob
import os
import re
import sys

import yaml

DEPLOY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(DEPLOY)
GRACE = 25  # MEDREC_SHUTDOWN_GRACE_SECONDS default
# The observability and shutdown contract the deploy files rely on (also in README.md's table).
CONTRACT = {"MEDREC_METRICS_PORT", "MEDREC_METRICS_HOST", "MEDREC_LOG_FORMAT", "MEDREC_SHUTDOWN_GRACE_SECONDS"}
problems = []


def need(condition, message):
    if not condition:
        problems.append(message)


def documented_names():
    text = open(os.path.join(ROOT, "README.md")).read()
    table = text[text.index("## Configuration"):text.index("### Field encryption")]
    return set(re.findall(r"`(MEDREC_[A-Z0-9_]+)`", table))


def check_env():
    path = os.path.join(DEPLOY, "systemd", "medrec.env.example")
    values = {}
    for number, line in enumerate(open(path), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line)
        need(match, f"{path}:{number}: not KEY=VALUE: {line}")
        if match:
            values[match.group(1)] = match.group(2)
    known = documented_names() | CONTRACT
    for name in values:
        need(name in known, f"{path}: {name} is neither in README.md's Configuration table nor in the metrics/log/shutdown contract")
    need(values.get("MEDREC_MODE") == "production", "MEDREC_MODE must be production")
    need(values.get("MEDREC_DATABASE_URL", "").startswith("postgres://"), "MEDREC_DATABASE_URL must be an external postgres:// URL")
    need(values.get("MEDREC_BASE_URL", "").startswith("https://"), "MEDREC_BASE_URL must be https")
    need(values.get("MEDREC_ENCRYPTION_KEY_FILE", "").startswith("/"), "MEDREC_ENCRYPTION_KEY_FILE must be an absolute path")
    need("MEDREC_ENCRYPTION_KEYS" not in values, "keys belong in the key file, not in the env file")
    need(int(values.get("MEDREC_SHUTDOWN_GRACE_SECONDS", GRACE)) < 40, "grace must stay below the unit's TimeoutStopSec (40 s)")
    unit = open(os.path.join(DEPLOY, "systemd", "medrec.service")).read()
    for directive in ["NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "CapabilityBoundingSet=\n",
                      "ProtectHome=yes", "EnvironmentFile=/etc/medrec/medrec.env", "ExecStartPre=/usr/local/bin/medrec migrate",
                      "ExecStart=/usr/local/bin/medrec serve", "KillSignal=SIGTERM", "User=medrec"]:
        need(directive in unit, f"medrec.service lacks {directive.strip()}")
    stop = re.search(r"TimeoutStopSec=(\d+)s?", unit)
    need(stop and int(stop.group(1)) > GRACE, "TimeoutStopSec must exceed the shutdown grace")
    print(f"env: {len(values)} settings in medrec.env.example, all documented or in the contract; unit directives present")


def check_dockerfile():
    text = open(os.path.join(DEPLOY, "Dockerfile")).read()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    need(len(stages) >= 2, "Dockerfile must be multi-stage")
    need(stages and stages[0][0].startswith("swift:"), "the build stage must use the official swift image")
    need(re.search(r"ARG SWIFT_VERSION=6\.", text), "SWIFT_VERSION must be 6.x")
    need("--static-swift-stdlib" in text and "--product medrec" in text and "-c release" in text, "release static build of medrec")
    need(stages and "slim" in stages[-1][0], "runtime stage must be a slim Debian image")
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    need(user and not user[-1].startswith(("0", "root")), "runtime must run as a non-root USER")
    need(re.search(r"^HEALTHCHECK .*\n?.*?/health/live", text, re.M | re.S), "HEALTHCHECK must probe /health/live")
    need("medical-records_Server.resources" in text, "the resources bundle must be copied beside the binary")
    for name in set(re.findall(r"MEDREC_[A-Z0-9_]+", text)):
        need(name in documented_names() | CONTRACT, f"Dockerfile uses unknown setting {name}")
    print(f"dockerfile: stages {[s[0] for s in stages]}, user {user[-1] if user else None}, health check on /health/live")


def check_compose():
    path = os.path.join(DEPLOY, "compose.yaml")
    doc = yaml.safe_load(open(path))
    services = doc.get("services", {})
    for name in ["postgres", "migrate", "medrec1", "medrec2", "haproxy", "prometheus"]:
        need(name in services, f"compose: service {name} missing")
    known = documented_names() | CONTRACT
    for name in ["medrec1", "medrec2", "migrate"]:
        service = services.get(name, {})
        env = service.get("environment", {})
        for key in env:
            need(key in known, f"compose {name}: unknown setting {key}")
        need(service.get("user", "").split(":")[0] not in ("", "0", "root"), f"compose {name}: must run as non-root")
        need(service.get("read_only") is True, f"compose {name}: read_only root filesystem")
        for env_file in service.get("env_file", []):
            need(env_file.startswith("secrets/"), f"compose {name}: env file {env_file} outside secrets/")
    for name in ["medrec1", "medrec2"]:
        service = services.get(name, {})
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        need("/health/live" in test, f"compose {name}: health check must probe /health/live")
        grace = service.get("stop_grace_period", "10s")
        need(int(grace.rstrip("s")) > GRACE, f"compose {name}: stop_grace_period must exceed {GRACE}s")
        need(services.get(name, {}).get("depends_on", {}).get("migrate", {}).get("condition") == "service_completed_successfully",
             f"compose {name}: must wait for migrate")
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and "secrets/" not in source:
                need(os.path.exists(os.path.join(DEPLOY, source)), f"compose: mounted file {source} does not exist")
    haproxy = open(os.path.join(DEPLOY, "haproxy", "haproxy-compose.cfg")).read()
    need("server r1 medrec1:8080" in haproxy and "server r2 medrec2:8080" in haproxy, "haproxy-compose.cfg must name medrec1/medrec2")
    need("/health/ready" in haproxy, "haproxy-compose.cfg must check /health/ready")
    prom = yaml.safe_load(open(os.path.join(DEPLOY, "prometheus", "prometheus-compose.yml")))
    targets = [t for job in prom["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]]
    need("medrec1:9464" in targets and "medrec2:9464" in targets, "prometheus-compose.yml must scrape both replicas")
    print(f"compose: services {sorted(services)}; probes, users, grace, files and names consistent")


def check_kubernetes():
    docs = []
    for path in sorted(glob.glob(os.path.join(DEPLOY, "kubernetes", "*.yaml"))):
        for doc in yaml.safe_load_all(open(path)):
            if doc:
                docs.append(doc)
    kinds = {d["kind"]: d for d in docs}
    for kind in ["Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Secret", "Job"]:
        need(kind in kinds, f"kubernetes: no {kind}")
    deployment = kinds.get("Deployment", {})
    spec = deployment.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    need(spec.get("replicas") == 2, "Deployment: 2 replicas")
    need(pod.get("terminationGracePeriodSeconds", 30) > GRACE + 5, "Deployment: terminationGracePeriodSeconds > grace + preStop")
    need(pod.get("securityContext", {}).get("runAsNonRoot") is True, "Deployment: runAsNonRoot")
    container = (pod.get("containers") or [{}])[0]
    need(container.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health/live", "liveness on /health/live")
    need(container.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/health/ready", "readiness on /health/ready")
    need(container.get("securityContext", {}).get("readOnlyRootFilesystem") is True, "read-only root filesystem")
    need(container.get("securityContext", {}).get("allowPrivilegeEscalation") is False, "no privilege escalation")
    need("requests" in container.get("resources", {}) and "limits" in container.get("resources", {}), "resources")
    selector = spec.get("selector", {}).get("matchLabels", {})
    labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
    need(all(labels.get(k) == v for k, v in selector.items()), "Deployment selector must match the pod labels")
    for kind in ["Service", "PodDisruptionBudget"]:
        sel = kinds.get(kind, {}).get("spec", {}).get("selector", {})
        sel = sel.get("matchLabels", sel)
        need(sel and all(labels.get(k) == v for k, v in sel.items()), f"{kind} selector must match the pods")
    job = kinds.get("Job", {}).get("spec", {}).get("template", {}).get("spec", {})
    need((job.get("containers") or [{}])[0].get("args") == ["migrate"], "migration Job runs `medrec migrate`")
    known = documented_names() | CONTRACT
    names = set()
    for doc in docs:
        if doc["kind"] in ("ConfigMap", "Secret"):
            names |= set(doc.get("data", {}) or {}) | set(doc.get("stringData", {}) or {})
    for name in names:
        need(name in known, f"kubernetes: unknown setting {name}")
    print(f"kubernetes: {len(docs)} objects ({', '.join(sorted(kinds))}); probes, security, selectors, {len(names)} settings known")


def check_names():
    """Every MEDREC_* name in deploy/ and the new docs is a documented setting or in the contract."""
    known = documented_names() | CONTRACT
    allowed_other = {"MEDREC_BIN", "MEDREC_CLUSTER_DIR", "MEDREC_CLUSTER_BASE_PORT", "MEDREC_CLUSTER_USER",
                     "MEDREC_BACKUP_TEST_DIR", "MEDREC_TOOLS_VENV", "MEDREC_ETC", "MEDREC_ADMIN_USER", "MEDREC_ADMIN_BIN"}  # the scripts' own knobs
    files = [p for p in glob.glob(os.path.join(DEPLOY, "**", "*"), recursive=True) if os.path.isfile(p)]
    files += [os.path.join(ROOT, "docs", d) for d in ("deployment.md", "operations.md", "scaling.md")
              if os.path.exists(os.path.join(ROOT, "docs", d))]
    seen = set()
    for path in files:
        try:
            text = open(path).read()
        except UnicodeDecodeError:
            continue
        for name in set(re.findall(r"MEDREC_[A-Z0-9_]*[A-Z0-9]", text)):
            seen.add(name)
            need(name in known or name in allowed_other, f"{os.path.relpath(path, ROOT)}: unknown setting {name}")
    print(f"names: {len(seen)} MEDREC_* names across {len(files)} files, all documented, contract or script knobs")


if __name__ == "__main__":
    {"env": check_env, "dockerfile": check_dockerfile, "compose": check_compose,
     "kubernetes": check_kubernetes, "names": check_names}[sys.argv[1]]()
    if problems:
        for p in problems:
            print("  problem:", p)
        sys.exit(1)
