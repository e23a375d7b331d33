#!/usr/bin/env bash
# Runs every benchmark of bench/: each Google Benchmark binary that BUILD_DIR/bench holds, then
# the Drone-vs-kcat macro-benchmark (bench/kafka_vs_kcat.sh, which takes N, S and ROUNDS from the
# environment) and Drone-vs-redis-benchmark (bench/redis_vs_redis_benchmark.sh: N, S, P, ROUNDS). `make bench` calls it with the build directory.
#
#   bench/run_all.sh build
#   MIN_TIME=1 bench/run_all.sh build      # longer micro-benchmark runs, steadier numbers
#   SKIP_KCAT=1 bench/run_all.sh build     # without the Drone-vs-kcat run
#   SKIP_REDIS=1 bench/run_all.sh build    # without the Drone-vs-redis-benchmark run
#   SKIP_MQTT=1 bench/run_all.sh build     # without the Drone-vs-mosquitto_pub run
#   SKIP_NETFAULT=1 bench/run_all.sh build # without the network-fault accuracy benchmark
set -euo pipefail

BUILD_DIR=${1:-build}
# Google Benchmark 1.7.1 takes a plain number of seconds (1.8 added the "0.2s" / "100x" forms).
MIN_TIME=${MIN_TIME:-0.2}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -d $BUILD_DIR/bench ]] ||
  { echo "run_all: no $BUILD_DIR/bench (build with -DDRONE_BUILD_BENCHMARKS=ON first)" >&2; exit 1; }

status=0
ran=0
# Every bench/<name>_bench.cc builds to BUILD_DIR/bench/<name>_bench (bench/CMakeLists.txt).
for bin in "$BUILD_DIR"/bench/*_bench; do
  [[ -f $bin && -x $bin ]] || continue
  name=$(basename "$bin")
  echo "=== $name"
  "$bin" --benchmark_min_time="$MIN_TIME" || { echo "run_all: $name failed" >&2; status=1; }
  ran=$((ran + 1))
  echo
done
((ran > 0)) || { echo "run_all: no benchmark binaries in $BUILD_DIR/bench" >&2; exit 1; }

# Network-fault accuracy (bench/netfault_accuracy.cc): needs root for its lab namespaces and says
# so otherwise; about a minute.
if [[ -z ${SKIP_NETFAULT:-} && -x $BUILD_DIR/bench/netfault_accuracy ]]; then
  echo "=== netfault_accuracy"
  "$BUILD_DIR"/bench/netfault_accuracy || { echo "run_all: netfault_accuracy failed" >&2; status=1; }
  echo
fi

if [[ -z ${SKIP_KCAT:-} ]]; then
  echo "=== kafka_vs_kcat"
  BUILD=$BUILD_DIR bench/kafka_vs_kcat.sh || { echo "run_all: kafka_vs_kcat failed" >&2; status=1; }
fi
if [[ -z ${SKIP_REDIS:-} ]]; then
  echo "=== redis_vs_redis_benchmark"
  BUILD=$BUILD_DIR bench/redis_vs_redis_benchmark.sh ||
    { echo "run_all: redis_vs_redis_benchmark failed" >&2; status=1; }
fi
if [[ -z ${SKIP_MQTT:-} ]]; then
  echo "=== mqtt_vs_mosquitto_pub"
  BUILD=$BUILD_DIR bench/mqtt_vs_mosquitto_pub.sh ||
    { echo "run_all: mqtt_vs_mosquitto_pub failed" >&2; status=1; }
fi
exit $status
