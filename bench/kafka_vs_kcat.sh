#!/usr/bin/env bash
# Drone's Kafka producer against `kcat -P` on the same embedded cluster, with the same number and
# size of messages, the same acks (all) and the same linger (5 ms). Runs alternate
# (drone, kcat, drone, kcat, ...) so that drift of the machine hits both alike; the result is the
# ratio of the median throughputs. See bench/README.md for how to read it.
#
#   bench/kafka_vs_kcat.sh                 # N=200000 messages of S=100 bytes, 3 rounds
#   N=500000 S=1024 ROUNDS=5 bench/kafka_vs_kcat.sh
#   BUILD=build-rel bench/kafka_vs_kcat.sh # or DRONE=/path/to/drone
#
# Every round is verified: the end offsets of the round's topic must grow by exactly N, and the
# messages the cluster still holds must all be S bytes long.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${N:-200000}
S=${S:-100}
ROUNDS=${ROUNDS:-3}
BUILD=${BUILD:-build}
DRONE=${DRONE:-$BUILD/drone}
BROKERS=${BROKERS:-3}
PARTITIONS=${PARTITIONS:-6}
STARTUP_TIMEOUT_S=${STARTUP_TIMEOUT_S:-60}

die() {
  echo "kafka_vs_kcat: $*" >&2
  exit 1
}

[[ -x $DRONE ]] || die "no drone binary at $DRONE (build first, or set BUILD= or DRONE=)"
command -v kcat >/dev/null || die "kcat is not installed (apt-get install kcat)"
command -v python3 >/dev/null || die "python3 is required"
[[ $N =~ ^[1-9][0-9]*$ && $S =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] ||
  die "N, S and ROUNDS must be positive integers"
((S >= 40)) || die "S must be >= 40 (Drone's envelope is 40 bytes)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drone-kcat.XXXXXX")
CLUSTER_PID=""

cleanup() {
  if [[ -n $CLUSTER_PID ]] && kill -0 "$CLUSTER_PID" 2>/dev/null; then
    kill -TERM "$CLUSTER_PID" 2>/dev/null || true
    # The cluster stops its brokers on SIGTERM; give it a bounded while, then insist.
    for _ in $(seq 1 100); do
      kill -0 "$CLUSTER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$CLUSTER_PID" 2>/dev/null; then
      kill -KILL "$CLUSTER_PID" 2>/dev/null || true
    fi
    wait "$CLUSTER_PID" 2>/dev/null || true
  fi
  CLUSTER_PID=""
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# --- the cluster ---------------------------------------------------------------------------------
"$DRONE" embedded-kafka --brokers "$BROKERS" \
  --topic "drone:$PARTITIONS:$BROKERS" --topic "kcat:$PARTITIONS:$BROKERS" \
  >"$WORK/cluster.out" 2>"$WORK/cluster.err" &
CLUSTER_PID=$!

BOOTSTRAP=""
deadline=$((SECONDS + STARTUP_TIMEOUT_S))
while [[ -z $BOOTSTRAP ]]; do
  if ! kill -0 "$CLUSTER_PID" 2>/dev/null; then
    cat "$WORK/cluster.err" >&2
    die "the embedded cluster exited before printing its bootstrap list"
  fi
  ((SECONDS < deadline)) || die "no bootstrap list from the embedded cluster within ${STARTUP_TIMEOUT_S}s"
  if [[ -s $WORK/cluster.out ]]; then
    IFS= read -r BOOTSTRAP <"$WORK/cluster.out" || true
    # Only a complete first line counts (the writer may be mid-line).
    [[ $(wc -l <"$WORK/cluster.out") -ge 1 ]] || BOOTSTRAP=""
  fi
  [[ -n $BOOTSTRAP ]] || sleep 0.1
done

# --- helpers -------------------------------------------------------------------------------------
# Sum of the end offsets (high watermarks) of a topic: everything ever appended to it. (Reading the
# messages back cannot count them: librdkafka's mock cluster keeps only the newest ~5 MiB of each
# partition and drops older message sets.)
end_offsets() {
  local topic=$1 args=() p
  for ((p = 0; p < PARTITIONS; p++)); do args+=(-t "$topic:$p:-1"); done
  kcat -Q -b "$BOOTSTRAP" "${args[@]}" | awk -v t="$topic" '
    $1 == t && $3 == "offset" { sum += $4; n++ }
    END { if (n == 0) exit 1; print sum }'
}

# "count size" lines for every message the cluster still holds in a topic.
retained_sizes() {
  kcat -C -e -q -o beginning -f '%S\n' -b "$BOOTSTRAP" -t "$1" | sort -n | uniq -c
}

now_ns() { date +%s%N; }

# N lines of S random printable bytes each. kcat -l strips the newline delimiter, so each kcat
# message is exactly S bytes, like Drone's.
python3 - "$WORK/messages.txt" "$N" "$S" <<'EOF'
import os, sys
path, n, s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
printable = bytes(33 + (i % 94) for i in range(256))  # '!'..'~', never a newline
raw = os.urandom(n * s).translate(printable)
with open(path, "wb") as f:
    for i in range(0, n, 10000):
        f.write(b"".join(raw[j * s:(j + 1) * s] + b"\n" for j in range(i, min(i + 10000, n))))
EOF

# --- the rounds ----------------------------------------------------------------------------------
echo "kafka_vs_kcat: $BROKERS-broker embedded cluster at $BOOTSTRAP; $N messages of $S bytes," \
  "acks=all, linger 5 ms, $ROUNDS rounds, topics of $PARTITIONS partitions"
drone_rates=()
drone_walls=()
kcat_rates=()

run_drone() {
  local round=$1 before after rc=0 t0 t1
  before=$(end_offsets drone)
  t0=$(now_ns)
  "$DRONE" run flows/external-produce.yaml -q --json "$WORK/drone-$round.json" \
    -p "bootstrap=$BOOTSTRAP" -p topic=drone -p "messages=$N" -p "size=$S" >&2 || rc=$?
  t1=$(now_ns)
  ((rc == 0)) || die "round $round: drone run exited with $rc"
  after=$(end_offsets drone)
  ((after - before == N)) || die "round $round: topic drone grew by $((after - before)), not $N"
  python3 - "$WORK/drone-$round.json" "$N" "$t0" "$t1" <<'EOF'
import json, sys
path, n, t0, t1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
w = json.load(open(path))["workloads"]["load"]
if w["acked"] != n:
    sys.exit(f"drone acked {w['acked']} of {n} messages")
rate = w["acked"] / w["load_seconds"]
wall = n / ((t1 - t0) / 1e9)
p = w["latency_ms"]["publish"]
print(f"{rate:.0f} {w['load_seconds']:.3f} {wall:.0f} {p['p50']:.1f} {p['p99']:.1f}")
EOF
}

run_kcat() {
  local round=$1 before after t0 t1
  before=$(end_offsets kcat)
  t0=$(now_ns)
  kcat -P -b "$BOOTSTRAP" -t kcat -X acks=all -X linger.ms=5 -l "$WORK/messages.txt" >&2 ||
    die "round $round: kcat -P failed"
  t1=$(now_ns)
  after=$(end_offsets kcat)
  ((after - before == N)) || die "round $round: topic kcat grew by $((after - before)), not $N"
  python3 -c "import sys; n, t0, t1 = map(int, sys.argv[1:]); s = (t1 - t0) / 1e9; print(f'{n / s:.0f} {s:.3f}')" \
    "$N" "$t0" "$t1"
}

for ((round = 1; round <= ROUNDS; round++)); do
  # An assignment from $(...) fails with the function, so set -e stops the script there.
  out=$(run_drone "$round")
  read -r rate load_s wall p50 p99 <<<"$out"
  drone_rates+=("$rate")
  drone_walls+=("$wall")
  printf 'round %d  drone %9d msg/s  (load %.3f s; %d msg/s wall-clock incl. start-up; publish p50 %s ms, p99 %s ms)\n' \
    "$round" "$rate" "$load_s" "$wall" "$p50" "$p99"
  out=$(run_kcat "$round")
  read -r rate secs <<<"$out"
  kcat_rates+=("$rate")
  printf 'round %d  kcat  %9d msg/s  (%.3f s wall-clock incl. start-up)\n' "$round" "$rate" "$secs"
done

# Both topics: every message still held is S bytes (the counts were checked per round).
for topic in drone kcat; do
  sizes=$(retained_sizes "$topic")
  if [[ $(wc -l <<<"$sizes") -ne 1 || $(awk '{print $2}' <<<"$sizes") -ne $S ]]; then
    die "topic $topic holds messages of other sizes than $S bytes: $sizes"
  fi
done
echo "verified: each round added exactly $N messages to its topic; all retained messages are $S bytes"

# The headline compares Drone's load phase (what `drone run` reports) with kcat's whole process,
# which also pays for start-up, so it leans slightly towards Drone; the second line compares both
# processes end to end, which leans towards kcat (Drone's start-up and teardown cost ~0.1 s).
python3 - "$ROUNDS" "${drone_rates[*]}" "${kcat_rates[*]}" "${drone_walls[*]}" <<'EOF'
import statistics, sys
rounds = int(sys.argv[1])
drone, kcat, drone_wall = (statistics.median(float(x) for x in a.split()) for a in sys.argv[2:5])
print(f"drone/kcat throughput ratio: {drone / kcat:.2f} "
      f"(drone {drone:.0f} msg/s, kcat {kcat:.0f} msg/s, median of {rounds} rounds)")
print(f"wall-clock ratio, both including process start-up: {drone_wall / kcat:.2f} "
      f"(drone {drone_wall:.0f} msg/s, kcat {kcat:.0f} msg/s)")
EOF
