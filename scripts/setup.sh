#!/usr/bin/env bash
# Installs every Debian package Drone needs to build, test and benchmark. Idempotent: packages
# already present are left alone, and apt's lists are refreshed only when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config git lld
  # libraries
  librdkafka-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libxxhash-dev libsqlite3-dev
  # network faults: namespaces, tc, iptables, the NFQUEUE impairer
  iproute2 iptables libnetfilter-queue-dev libmnl-dev
  # RabbitMQ: the client library, and the server the local platform runs
  librabbitmq-dev rabbitmq-server
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-jsonschema python3-yaml kcat
  python3-prometheus-client
  # the local platform: Redis (hiredis client, server, sentinel, redis-cli, redis-benchmark), HAProxy
  libhiredis-dev redis-server redis-sentinel redis-tools haproxy
  # formatting and static analysis (make format, make tidy)
  clang-format clang-tidy
  # NATS and MQTT: client libraries, servers and command-line clients (platform: local)
  libnats-dev nats-server libmosquitto-dev mosquitto mosquitto-clients libcpp-httplib-dev
  # the web UI (ui/: built with npm, which comes with nodejs or, below, on its own), its browser
  # tests (Debian's chromium) and the Kubernetes manifests' schema validation (tests/k8s/validate.js)
  nodejs chromium
)

# tests/k8s: kubernetes-models and its validator, from the lock file; skipped when installed.
npm_ci_k8s() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/k8s"
  if [ -f "$dir/node_modules/.package-lock.json" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    echo "setup: tests/k8s node modules present"
    return
  fi
  # Debian's nodejs needs its npm package; NodeSource's nodejs carries npm itself.
  if ! command -v npm >/dev/null; then
    ${SUDO:-} apt-get install -y -qq --no-install-recommends npm
  fi
  (cd "$dir" && npm ci --no-audit --no-fund)
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 2; }
    SUDO=sudo
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The web UI's npm packages (ui/package-lock.json), fetched once; later builds need no network.
# Some nodejs packages bring npm along and conflict with Debian's npm package: add it only when
# there is no npm.
if ! command -v npm >/dev/null; then
  echo "setup: installing npm"
  if [ "$(id -u)" -ne 0 ]; then sudo apt-get install -y -qq --no-install-recommends npm
  else apt-get install -y -qq --no-install-recommends npm; fi
fi
UI_DIR="$(cd "$(dirname "$0")/.." && pwd)/ui"
if [ ! -f "$UI_DIR/node_modules/.package-lock.json" ] ||
   [ "$UI_DIR/package-lock.json" -nt "$UI_DIR/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci in ui/"
  (cd "$UI_DIR" && npm ci --no-audit --no-fund)
else
  echo "setup: ui/node_modules up to date"
fi
# The schema validation's npm packages (tests/k8s/package-lock.json).
npm_ci_k8s
