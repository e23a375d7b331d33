#!/usr/bin/env bash
# Drone's Redis producer against `redis-benchmark` on the same redis-server, with the same command
# (XADD <stream> * d <S-byte payload>), the same number of messages, one connection each and the
# same pipeline depth. Runs alternate (drone, redis-benchmark, drone, ...) so that drift of the
# machine hits both alike; the result is the ratio of the median throughputs.
#
#   bench/redis_vs_redis_benchmark.sh                    # N=200000 messages of S=100 bytes, P=32, 3 rounds
#   N=500000 S=512 P=64 ROUNDS=5 bench/redis_vs_redis_benchmark.sh
#   BUILD=build-rel bench/redis_vs_redis_benchmark.sh   # or DRONE=/path/to/drone
#
# Every round is verified: the round's stream must grow by exactly N entries.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-200000}
S=${S:-100}
P=${P:-32}
ROUNDS=${ROUNDS:-3}
BUILD=${BUILD:-build}
DRONE=${DRONE:-$BUILD/drone}

die() {
  echo "redis_vs_redis_benchmark: $*" >&2
  exit 1
}

[[ -x $DRONE ]] || die "no drone binary at $DRONE (build first, or set BUILD= or DRONE=)"
for p in redis-server redis-benchmark redis-cli python3; do
  command -v "$p" >/dev/null || die "$p is not installed (apt-get install redis-server redis-tools python3)"
done
[[ $N =~ ^[1-9][0-9]*$ && $S =~ ^[1-9][0-9]*$ && $P =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] ||
  die "N, S, P and ROUNDS must be positive integers"
((S >= 40)) || die "S must be >= 40 (Drone's envelope is 40 bytes)"
# redis-benchmark sends whole pipelines: a count that is not a multiple of P is rounded up by it.
N=$(((N + P - 1) / P * P))

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drone-redis-bench.XXXXXX")
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# No persistence: both clients measure the same in-memory server.
redis-server --bind 127.0.0.1 --port "$PORT" --dir "$WORK" --save "" --appendonly no \
  >"$WORK/redis.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  redis-cli -h 127.0.0.1 -p "$PORT" PING >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/redis.log" >&2; die "redis-server exited"; }
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$PORT" PING >/dev/null || die "redis-server did not answer within 10 s"

cat >"$WORK/flow.yaml" <<FLOW
name: redis-bench-produce
steps:
  cluster: { kind: cluster, with: { broker: redis, platform: external, bootstrap: "127.0.0.1:$PORT" } }
  load:
    kind: workload
    needs: [cluster]
    with: { topic: bench-drone, producers: 1, consumers: 0, rate: max, size: $S, messages: $N,
            acks: 1, producer_config: { pipeline: $P } }
FLOW
PAYLOAD=$(python3 -c "import sys; print('x' * int(sys.argv[1]))" "$S")

xlen() { redis-cli -h 127.0.0.1 -p "$PORT" XLEN "$1"; }

echo "redis_vs_redis_benchmark: redis-server at 127.0.0.1:$PORT; $N x XADD of $S bytes, 1 connection," \
  "pipeline $P, $ROUNDS rounds"
drone_rates=()
native_rates=()
for ((round = 1; round <= ROUNDS; round++)); do
  before=$(xlen bench-drone)
  "$DRONE" run "$WORK/flow.yaml" -q --no-store --json "$WORK/drone-$round.json" >&2 ||
    die "round $round: drone run failed"
  after=$(xlen bench-drone)
  ((after - before == N)) || die "round $round: stream bench-drone grew by $((after - before)), not $N"
  rate=$(python3 - "$WORK/drone-$round.json" "$N" <<'PY'
import json, sys
w = json.load(open(sys.argv[1]))["workloads"]["load"]
if w["acked"] != int(sys.argv[2]):
    sys.exit(f"drone acked {w['acked']} of {sys.argv[2]}")
print(f"{w['acked'] / w['load_seconds']:.0f}")
PY
)
  drone_rates+=("$rate")
  printf 'round %d  drone            %9d msg/s\n' "$round" "$rate"

  before=$(xlen bench-native)
  out=$(redis-benchmark -h 127.0.0.1 -p "$PORT" -c 1 -n "$N" -P "$P" --csv XADD bench-native '*' d "$PAYLOAD")
  after=$(xlen bench-native)
  ((after - before == N)) || die "round $round: stream bench-native grew by $((after - before)), not $N"
  rate=$(python3 -c 'import csv, sys; rows = list(csv.reader(sys.stdin)); print(f"{float(rows[-1][1]):.0f}")' <<<"$out")
  native_rates+=("$rate")
  printf 'round %d  redis-benchmark  %9d msg/s\n' "$round" "$rate"
done
echo "verified: each round added exactly $N entries to its stream"
python3 - "$ROUNDS" "${drone_rates[*]}" "${native_rates[*]}" <<'PY'
import statistics, sys
drone, native = (statistics.median(float(x) for x in a.split()) for a in sys.argv[2:4])
print(f"drone/redis-benchmark throughput ratio: {drone / native:.2f} "
      f"(drone {drone:.0f} msg/s, redis-benchmark {native:.0f} msg/s, median of {sys.argv[1]} rounds)")
PY
