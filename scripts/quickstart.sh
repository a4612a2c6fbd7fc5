#!/usr/bin/env bash
# The main job end to end, offline, on a synthetic sample release:
# 1. installs what is missing (docker-registry, skopeo, openssl, gnupg) and builds mirrorctl;
# 2. serves a sample OpenShift release (synthetic, format-faithful: see tests/src/fixture)
#    from a local "upstream" registry, signed with a generated test key whose signature a
#    loopback signature store serves (the payload's verification ConfigMap names both);
# 3. runs `mirrorctl install` against it: certificates, htpasswd user, the registry (process
#    runtime, under .quickstart/ instead of /opt/registry), login check, pull secret, release
#    mirror, openshift-install extract, install-config snippet;
# 4. runs it again (every step: already done), checks the mirrored release digest with skopeo,
#    writes the release signature ConfigMap the cluster needs for upgrades (signatures
#    required: the mirror verifies them offline), and prints the install-config snippet.
# The host trust store is left alone (--skip trust); install trusts its own CA anyway.
# Both registries are stopped at the end. Set QUICKSTART_PORT to move off port 5000.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages
echo "== building mirrorctl" >&2
cargo build -q -p mirror-cli -p mirror-testkit --bins
bin=$PWD/target/debug
work=$PWD/.quickstart
port=${QUICKSTART_PORT:-5000}
"$bin/mirrorctl" registry down --root "$work/registry" >/dev/null 2>&1 || true
"$bin/mirror-fixture" down --dir "$work/upstream" >/dev/null 2>&1 || true
rm -rf "$work"; mkdir -p "$work"
cleanup() {
  "$bin/mirrorctl" registry down --root "$work/registry" >/dev/null 2>&1 || true
  "$bin/mirror-fixture" down --dir "$work/upstream" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== serving the sample release from a local upstream registry" >&2
"$bin/mirror-fixture" up --dir "$work/upstream" >/dev/null
. "$work/upstream/fixture.env"
UPSTREAM=$REGISTRY; FROM=$RELEASE; FROM_DIGEST=$RELEASE_DIGEST

# The inputs createMirrorRegistry.sh took: the certificate file, a user and password, an
# email, the release, and the Red Hat pull secret (a sample one here).
cat >"$work/certificate" <<'CERT'
countrycode=US
state=North Carolina
locality=Raleigh
organization=Example
unit=IT
CERT
umask 077
head -c 18 /dev/urandom | base64 >"$work/password"
printf '{"auths":{"cloud.openshift.com":{"auth":"%s","email":"admin@example.com"}}}\n' \
  "$(printf 'sample:not-a-real-token' | base64)" >"$work/pull-secret"
umask 022

install=("$bin/mirrorctl" install
  --email admin@example.com --username mirror --password-file "$work/password"
  --release "$FROM" --pull-secret "$work/pull-secret" --certificate-file "$work/certificate"
  --hostname localhost --port "$port" --root "$work/registry" --runtime process --supervisor process
  --output-dir "$work/out" --insecure-registry "$UPSTREAM" --min-free 1GiB --skip trust)

echo "== mirrorctl install (real-world: see README.md)" >&2
"${install[@]}"
echo "== again: every step is already done" >&2
"${install[@]}" >/dev/null

echo "== checking the mirrored release with skopeo" >&2
mkdir -p "$work/certs"; cp "$work/registry/certs/ca.crt" "$work/certs/ca.crt"
got=$(skopeo inspect --raw --authfile "$work/out/pull-secret.json" --cert-dir "$work/certs" \
  "docker://localhost:$port/ocp4/openshift4:4.14.1-x86_64" | sha256sum | cut -d' ' -f1)
if [ "sha256:$got" != "$FROM_DIGEST" ]; then
  echo "error: mirrored release digest sha256:$got differs from the source $FROM_DIGEST" >&2
  exit 1
fi
echo "ok: localhost:$port/ocp4/openshift4:4.14.1-x86_64 has the source digest $FROM_DIGEST" >&2

echo "== the release signature ConfigMap (verified against the payload's key, offline)" >&2
"$bin/mirrorctl" release mirror --from "$FROM" --to "localhost:$port/ocp4/openshift4" \
  -a "$work/out/pull-secret.json" --ca-file "$work/registry/certs/ca.crt" \
  --insecure-registry "$UPSTREAM" --require-signatures \
  --release-image-signature-to-dir "$work/out/signatures" >/dev/null
cm="$work/out/signatures/signature-sha256-${FROM_DIGEST:7:16}.json"
if [ ! -s "$cm" ]; then
  echo "error: no signature ConfigMap at $cm" >&2
  exit 1
fi
echo "ok: $cm (oc apply -f it on the cluster; $work/out/signatures is also a signature store tree)" >&2
echo "== install-config snippet ($work/out/install-config-snippet.yaml)" >&2
cat "$work/out/install-config-snippet.yaml"
