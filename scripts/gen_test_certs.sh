#!/usr/bin/env bash
# Regenerates the TLS test certificates in tests/fixtures/tls (committed: the suite never runs
# openssl). ECDSA P-256, valid for 100 years, except expired.pem (2020-2021). Run from anywhere:
#   bash scripts/gen_test_certs.sh           # every file, anew (other tests pin some of them)
#   bash scripts/gen_test_certs.sh renewed   # only renewal-ca.pem and renewed.pem
# The CA keys are not kept: a file added later (renewed.pem) comes with a CA of its own, so that
# writing it leaves the committed files as they are.
set -euo pipefail
only=${1:-}
out="$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/tls"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
key() { openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out "$1.key"; }
ca() { # name subject
  key "$1"
  openssl req -x509 -new -key "$1.key" -subj "$2" -days 36500 -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() { # name ca subject san [extra openssl-ca args]
  local name=$1 issuer=$2 subject=$3 san=$4
  key "$name"
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  { echo "basicConstraints=CA:FALSE"; [ -n "$san" ] && echo "subjectAltName=$san"; } > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" -CAcreateserial -days 36500 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
}
# A renewed default.pem for the reload tests: the same names, another key and serial, its own CA
# (a renewal as certbot makes one: same names, new certificate).
renewed() {
  ca renewal-ca "/CN=Proxy Test Renewal CA"
  leaf renewed renewal-ca "/CN=default.test" "DNS:default.test,DNS:localhost,IP:127.0.0.1"
  cp renewal-ca.crt "$out/renewal-ca.pem"; cat renewed.crt renewed.key > "$out/renewed.pem"
}
if [ "$only" = renewed ]; then renewed; echo "written to $out"; exit 0; fi
[ -z "$only" ] || { echo "usage: $0 [renewed]" >&2; exit 2; }
ca ca "/CN=Proxy Test CA"
ca other-ca "/CN=Untrusted Test CA"
leaf default ca "/CN=default.test" "DNS:default.test,DNS:localhost,IP:127.0.0.1"
leaf exact ca "/CN=not-in-san.test" "DNS:www.example.test,DNS:api.example.test"
leaf wildcard ca "/CN=wildcard" "DNS:*.example.test"
leaf cn-only ca "/CN=cn-only.test" ""
leaf client ca "/CN=client one/O=Test Clients" ""
leaf untrusted other-ca "/CN=untrusted.test" "DNS:untrusted.test,DNS:localhost,IP:127.0.0.1"
# An expired certificate: openssl ca takes explicit dates.
key expired
openssl req -new -key expired.key -subj "/CN=expired.test" -out expired.csr
mkdir -p db; : > db/index.txt; echo 1000 > db/serial
cat > ca.cnf <<CNF
[ca]
default_ca = test
[test]
database = db/index.txt
serial = db/serial
new_certs_dir = db
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
subjectAltName = DNS:expired.test
CNF
openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr -out expired.crt \
  -startdate 20200101000000Z -enddate 20210101000000Z -extensions ext -notext 2>/dev/null
rm -rf "$out"; mkdir -p "$out"
cp ca.crt "$out/ca.pem"; cp other-ca.crt "$out/other-ca.pem"
# HAProxy's layout: chain then key in one file; cn-only's key sits beside it (cn-only.pem.key).
for n in default exact wildcard untrusted expired; do cat "$n.crt" "$n.key" > "$out/$n.pem"; done
cp cn-only.crt "$out/cn-only.pem"; cp cn-only.key "$out/cn-only.pem.key"
cp client.crt "$out/client.crt"; cp client.key "$out/client.key"
# A key that belongs to no certificate here, for the mismatch checks.
key stray; cat exact.crt stray.key > "$out/mismatch.pem"
# A directory as `crt` takes it: its files in name order, the first the default.
mkdir -p "$out/dir"; cp "$out/default.pem" "$out/dir/10-default.pem"; cp "$out/exact.pem" "$out/dir/20-exact.pem"
cp "$out/wildcard.pem" "$out/dir/30-wildcard.pem"
renewed
echo "written to $out"
