#!/usr/bin/env bash
# The main job end to end, offline, on a synthetic sample release:
# 1. installs what is missing (docker-registry, skopeo, openssl) and builds mirrorctl;
# 2. serves a sample OpenShift release (synthetic, format-faithful: see tests/src/fixture)
#    from a local "upstream" registry, and starts an empty TLS mirror registry;
# 3. mirrors the release with `mirrorctl release mirror`, digests preserved, release tag last;
# 4. runs it again (a no-op), checks the release digest with skopeo, prints the instructions.
# Everything lives under .quickstart/ and both registries are stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages
echo "== building mirrorctl" >&2
cargo build -q -p mirror-cli -p mirror-testkit --bins
bin=target/debug
work=.quickstart
rm -rf "$work"; mkdir -p "$work"
cleanup() {
  "$bin/mirror-fixture" down --dir "$work/upstream" >/dev/null 2>&1 || true
  "$bin/mirror-fixture" down --dir "$work/mirror" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "== serving the sample release from a local upstream registry" >&2
"$bin/mirror-fixture" up --dir "$work/upstream" >/dev/null
. "$work/upstream/fixture.env"
UPSTREAM=$REGISTRY; FROM=$RELEASE; FROM_DIGEST=$RELEASE_DIGEST
echo "== starting an empty TLS mirror registry" >&2
"$bin/mirror-fixture" up --dir "$work/mirror" --tls --empty >/dev/null
. "$work/mirror/fixture.env"
MIRROR=$REGISTRY; MIRROR_CA=$CA_FILE

echo "== mirrorctl release mirror --from $FROM --to $MIRROR/ocp4/openshift4" >&2
"$bin/mirrorctl" release mirror --from "$FROM" --to "$MIRROR/ocp4/openshift4" \
  --insecure-registry "$UPSTREAM" --ca-file "$MIRROR_CA" | tee "$work/mirror-output.txt"

echo "== again: nothing is missing, so nothing is copied" >&2
"$bin/mirrorctl" release mirror --from "$FROM" --to "$MIRROR/ocp4/openshift4" \
  --insecure-registry "$UPSTREAM" --ca-file "$MIRROR_CA" --output json >"$work/rerun.json"
grep -q '"bytesCopied": 0' "$work/rerun.json"

echo "== checking the mirrored release with skopeo" >&2
mkdir -p "$work/certs"; cp "$MIRROR_CA" "$work/certs/ca.crt"
tag=$(sed -n 's/^Update image:  //p' "$work/mirror-output.txt")
got=$(skopeo inspect --raw --cert-dir "$work/certs" "docker://$tag" | sha256sum | cut -d' ' -f1)
if [ "sha256:$got" != "$FROM_DIGEST" ]; then
  echo "error: mirrored release digest sha256:$got differs from the source $FROM_DIGEST" >&2
  exit 1
fi
echo "ok: $tag has the source digest $FROM_DIGEST" >&2
