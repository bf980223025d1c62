#!/usr/bin/env bash
# Makes a nats-server >= 2.11.2 available to mnq and prints its path on stdout.
#
# Order: $NATS_SERVER_BIN, a nats-server on PATH, the project cache (.cache/nats-server/),
# then Debian's nats-server package (testing, then unstable), fetched with a private apt
# configuration into the cache: the machine's apt setup is not touched and nothing is installed.
# A fast no-op when a good binary is already there.
set -euo pipefail

MIN_VERSION="2.11.2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache/nats-server"
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1

say() { [ "$quiet" = 1 ] || echo "install-nats-server: $*" >&2; }

# version_ok BIN: true when BIN runs and reports a version >= MIN_VERSION.
version_ok() {
  local bin="$1" v
  [ -x "$bin" ] || return 1
  v="$("$bin" --version 2>/dev/null | sed -n 's/^nats-server: v\{0,1\}\([0-9][0-9.]*\).*/\1/p')" || return 1
  [ -n "$v" ] || return 1
  [ "$(printf '%s\n%s\n' "$MIN_VERSION" "$v" | sort -V | head -n1)" = "$MIN_VERSION" ]
}

if [ -n "${NATS_SERVER_BIN:-}" ]; then
  if version_ok "$NATS_SERVER_BIN"; then echo "$NATS_SERVER_BIN"; exit 0; fi
  echo "install-nats-server: NATS_SERVER_BIN=$NATS_SERVER_BIN is not a nats-server >= $MIN_VERSION" >&2
  exit 1
fi
if on_path="$(command -v nats-server 2>/dev/null)" && version_ok "$on_path"; then
  echo "$on_path"; exit 0
fi
if version_ok "$cache/nats-server"; then
  echo "$cache/nats-server"; exit 0
fi

fail() {
  cat >&2 <<EOF
install-nats-server: could not get nats-server >= $MIN_VERSION ($1).
mnq needs a nats-server binary of version $MIN_VERSION or newer (for default_sentinel). Install one
(https://github.com/nats-io/nats-server/releases, or Debian testing's 'nats-server' package) and put
it on PATH, or set NATS_SERVER_BIN to its path. On Debian-based machines this script fetches it with
apt-get from the 'testing' suite; that needs apt-get, dpkg and access to the Debian archive.
EOF
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found"
command -v dpkg >/dev/null 2>&1 || fail "dpkg not found"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/prefs" "$work/dl"
touch "$work/status"
arch="$(dpkg --print-architecture)"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
signed=""
[ -f "$keyring" ] && signed="[signed-by=$keyring]"

for suite in testing unstable; do
  say "fetching nats-server from Debian $suite"
  echo "deb $signed http://deb.debian.org/debian $suite main" > "$work/sources.list"
  apt_opts=(
    -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::State::Status=$work/status"
    -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=$work/prefs"
    -o "APT::Architecture=$arch" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
  )
  if ! apt-get "${apt_opts[@]}" -qq update >"$work/apt.log" 2>&1; then
    say "apt-get update for $suite failed"; continue
  fi
  rm -f "$work/dl/"*.deb
  if ! (cd "$work/dl" && apt-get "${apt_opts[@]}" -qq download nats-server >>"$work/apt.log" 2>&1); then
    say "no nats-server package in $suite"; continue
  fi
  rm -rf "$work/x"
  dpkg -x "$work/dl/"nats-server_*.deb "$work/x"
  if version_ok "$work/x/usr/sbin/nats-server"; then
    mkdir -p "$cache"
    install -m 0755 "$work/x/usr/sbin/nats-server" "$cache/nats-server.tmp"
    mv "$cache/nats-server.tmp" "$cache/nats-server"
    say "installed $("$cache/nats-server" --version) into $cache"
    echo "$cache/nats-server"
    exit 0
  fi
  say "Debian $suite's nats-server is older than $MIN_VERSION"
done
fail "see the messages above"
