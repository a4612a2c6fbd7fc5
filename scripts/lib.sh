# Shared by the scripts: make sure the tools the tests and the quickstart use are installed.
# Sourced, not run.

need_sudo() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_moto: moto's S3 API server (`moto_server`, PyPI `moto[server]`), the object store the
# S3 storage tests run the registry against. Debian 12's Python refuses system-wide pip
# installs (PEP 668), so it goes into a virtualenv with `moto_server` linked onto PATH.
ensure_moto() {
  command -v moto_server >/dev/null 2>&1 && return 0
  local venv=/opt/mirrorctl-test/moto
  echo "info: installing moto[server] into $venv" >&2
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      need_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      need_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
    elif command -v dnf >/dev/null 2>&1; then
      need_sudo dnf install -y python3 python3-pip
    fi
  fi
  need_sudo python3 -m venv "$venv"
  need_sudo "$venv/bin/pip" install --quiet 'moto[server]'
  need_sudo ln -sf "$venv/bin/moto_server" /usr/local/bin/moto_server
}

# ensure_packages: docker-registry (the distribution registry, the program in the registry:2
# image), skopeo (an independent registry client), openssl, gnupg (the tests check that
# release signatures made by `gpg --sign` verify, and that gpg verifies ours) and moto (an S3
# API server).
ensure_packages() {
  ensure_apt_packages
  ensure_moto
}

ensure_apt_packages() {
  local missing=()
  command -v docker-registry >/dev/null 2>&1 || command -v registry >/dev/null 2>&1 || missing+=(registry)
  command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v gpg >/dev/null 2>&1 || missing+=(gnupg)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "info: installing ${missing[*]}" >&2
  if command -v apt-get >/dev/null 2>&1; then
    need_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    need_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo openssl gnupg >/dev/null
  elif command -v dnf >/dev/null 2>&1; then
    need_sudo dnf install -y docker-distribution skopeo openssl gnupg2
  elif command -v yum >/dev/null 2>&1; then
    need_sudo yum install -y docker-distribution skopeo openssl gnupg2
  else
    echo "error: cannot install ${missing[*]}: no apt-get, dnf or yum; install them by hand" >&2
    return 1
  fi
  # docker-distribution installs `registry`; the harness looks for `docker-registry`.
  if ! command -v docker-registry >/dev/null 2>&1 && command -v registry >/dev/null 2>&1; then
    need_sudo ln -sf "$(command -v registry)" /usr/local/bin/docker-registry
  fi
}
