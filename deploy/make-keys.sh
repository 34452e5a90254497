#!/usr/bin/env bash
# Makes a fresh set of medrec production keys in DIR (refuses to overwrite any of them):
#   DIR/encryption-keys.json  field-encryption keyring + blind-index key  → MEDREC_ENCRYPTION_KEY_FILE
#   DIR/jwt-signing-keys.json JWT signing keys (Ed25519), pretty JSON      → kept for backup/rollover
#   DIR/signing-keys.env      MEDREC_AUTH_SIGNING_KEYS='<same JSON, one line>' → second EnvironmentFile
# All mode 0600. Needs openssl and python3 (stdlib only).
# Usage: deploy/make-keys.sh DIR [--key-id k1] [--owner USER]
set -euo pipefail
dir=${1:?usage: make-keys.sh DIR [--key-id ID] [--owner USER]}
shift
key_id=k1 owner=
while [ $# -gt 0 ]; do
  case $1 in
    --key-id) key_id=$2; shift 2 ;;
    --owner) owner=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
umask 077
mkdir -p "$dir"
for f in encryption-keys.json jwt-signing-keys.json signing-keys.env; do
  if [ -e "$dir/$f" ]; then echo "make-keys: $dir/$f exists; not replacing keys" >&2; exit 1; fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Ed25519 private key as PKCS#8 DER: the raw 32-byte seed is the last 32 bytes; the public key's
# SubjectPublicKeyInfo DER ends with the raw 32-byte public key.
openssl genpkey -algorithm ed25519 -outform DER -out "$tmp/ed.der" 2>/dev/null
openssl pkey -inform DER -in "$tmp/ed.der" -pubout -outform DER -out "$tmp/ed.pub.der" 2>/dev/null
python3 - "$dir" "$key_id" "$tmp/ed.der" "$tmp/ed.pub.der" <<'PY'
import base64, json, os, sys
out, key_id, priv, pub = sys.argv[1:5]
b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
d = open(priv, "rb").read()[-32:]
x = open(pub, "rb").read()[-32:]
kid = b64u(os.urandom(12))
signing = {"activeKid": kid, "keys": [{"kid": kid, "alg": "EdDSA", "crv": "Ed25519", "d": b64u(d), "x": b64u(x)}]}
keyring = {"active": key_id, "keys": {key_id: base64.b64encode(os.urandom(32)).decode()},
           "blindIndexKey": base64.b64encode(os.urandom(32)).decode()}
def write(name, text):
    fd = os.open(os.path.join(out, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
write("encryption-keys.json", json.dumps(keyring, indent=2, sort_keys=True) + "\n")
write("jwt-signing-keys.json", json.dumps(signing, indent=2, sort_keys=True) + "\n")
write("signing-keys.env", "MEDREC_AUTH_SIGNING_KEYS='" + json.dumps(signing, separators=(",", ":")) + "'\n")
PY
if [ -n "$owner" ]; then chown "$owner:" "$dir/encryption-keys.json"; fi
echo "make-keys: wrote $dir/encryption-keys.json (active key $key_id), $dir/jwt-signing-keys.json, $dir/signing-keys.env"
