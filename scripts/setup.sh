#!/usr/bin/env bash
# Installs every Debian package Drone needs to build, test and benchmark. Idempotent: packages
# already present are left alone, and apt's lists are refreshed only when something is missing.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config git
  # libraries
  librdkafka-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libxxhash-dev libsqlite3-dev
  # RabbitMQ: the client library, and the server the local platform runs
  librabbitmq-dev rabbitmq-server
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3 python3-jsonschema python3-yaml kcat
  # formatting and static analysis (make format, make tidy)
  clang-format clang-tidy
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 2; }
  SUDO=sudo
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
