#!/usr/bin/env bash
# Drone's MQTT producer against `mosquitto_pub -l` on the same mosquitto broker, with the same
# number and size of messages and the same QoS. Runs alternate (drone, mosquitto_pub, drone, ...)
# so that drift of the machine hits both alike; the result is the ratio of the median
# throughputs. See bench/README.md for how to read it.
#
#   bench/mqtt_vs_mosquitto_pub.sh                 # N=20000 messages of S=100 bytes, QoS 1, 3 rounds
#   N=200000 S=512 QOS=2 ROUNDS=5 bench/mqtt_vs_mosquitto_pub.sh
#   BUILD=build-rel bench/mqtt_vs_mosquitto_pub.sh # or DRONE=/path/to/drone
#
# Every round is verified: a persistent session subscribed before the round must receive exactly
# N messages, all S bytes long.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# 20000 by default: mosquitto 2.0.11 cuts `mosquitto_pub -l` off ("disconnected due to out of
# memory") about 35000 QoS 1 messages into a fast run, and mosquitto_pub still exits 0.
N=${N:-20000}
S=${S:-100}
QOS=${QOS:-1}
ROUNDS=${ROUNDS:-3}
BUILD=${BUILD:-build}
DRONE=${DRONE:-$BUILD/drone}
STARTUP_TIMEOUT_S=${STARTUP_TIMEOUT_S:-20}

die() {
  echo "mqtt_vs_mosquitto_pub: $*" >&2
  exit 1
}

[[ -x $DRONE ]] || die "no drone binary at $DRONE (build first, or set BUILD= or DRONE=)"
for tool in mosquitto mosquitto_pub mosquitto_sub; do
  command -v $tool >/dev/null || die "$tool is not installed (apt-get install mosquitto mosquitto-clients)"
done
command -v python3 >/dev/null || die "python3 is required"
[[ $N =~ ^[1-9][0-9]*$ && $S =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] ||
  die "N, S and ROUNDS must be positive integers"
[[ $QOS =~ ^[012]$ ]] || die "QOS must be 0, 1 or 2"
((S >= 40)) || die "S must be >= 40 (Drone's envelope is 40 bytes)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/drone-mqtt-bench.XXXXXX")
BROKER_PID=""

cleanup() {
  if [[ -n $BROKER_PID ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$BROKER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  BROKER_PID=""
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# --- the broker ----------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
  echo "listener $PORT 127.0.0.1"
  echo "allow_anonymous true"
  echo "persistence false"
  # The verifying session queues a whole round.
  echo "max_queued_messages $((N + 1000))"
  # ... QoS 0 ones too (mosquitto queues only QoS 1/2 for an offline session by default).
  echo "queue_qos0_messages true"
  echo "user $(id -un)"
} >"$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
BROKER_PID=$!
deadline=$((SECONDS + STARTUP_TIMEOUT_S))
until mosquitto_sub -h 127.0.0.1 -p "$PORT" -t probe -E -q 0 2>/dev/null; do
  kill -0 "$BROKER_PID" 2>/dev/null || { cat "$WORK/mosquitto.log" >&2; die "mosquitto exited at start"; }
  ((SECONDS < deadline)) || die "mosquitto did not accept connections within ${STARTUP_TIMEOUT_S}s"
  sleep 0.1
done

# --- helpers -------------------------------------------------------------------------------------
now_ns() { date +%s%N; }

# A persistent session on the round's topic, subscribed before the round and read after it.
subscribe_checker() { mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$1" -q 1 -c -i "check-$1" -E; }
verify_round() {
  local topic=$1 sizes
  sizes=$(mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$topic" -q 1 -c -i "check-$topic" \
    -C "$N" -W 120 -F '%l' | sort -n | uniq -c) || die "$topic: fewer than $N messages arrived"
  [[ $(wc -l <<<"$sizes") -eq 1 && $(awk '{print $1, $2}' <<<"$sizes") == "$N $S" ]] ||
    die "$topic: expected $N messages of $S bytes, got: $sizes"
}

# N lines of S random printable bytes each; mosquitto_pub -l sends each line (without its
# newline) as one message, so each is exactly S bytes, like Drone's.
python3 - "$WORK/messages.txt" "$N" "$S" <<'PYEOF'
import os, sys
path, n, s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
printable = bytes(33 + (i % 94) for i in range(256))
raw = os.urandom(n * s).translate(printable)
with open(path, "wb") as f:
    for i in range(0, n, 10000):
        f.write(b"".join(raw[j * s:(j + 1) * s] + b"\n" for j in range(i, min(i + 10000, n))))
PYEOF

cat >"$WORK/produce.yaml" <<YAML
name: mqtt-produce
params: { bootstrap: "127.0.0.1:1883", topic: drone, messages: 1000, size: 100, qos: "1" }
steps:
  cluster: { kind: cluster, with: { broker: mqtt, platform: external, bootstrap: "\${{ params.bootstrap }}" } }
  load:
    kind: workload
    needs: [cluster]
    with:
      topic: "\${{ params.topic }}"
      producers: 1
      consumers: 0
      rate: max
      size: "\${{ params.size }}"
      messages: "\${{ params.messages }}"
      acks: 1
      producer_config: { qos: "\${{ params.qos }}" }
YAML

# --- the rounds ----------------------------------------------------------------------------------
echo "mqtt_vs_mosquitto_pub: mosquitto at 127.0.0.1:$PORT; $N messages of $S bytes, QoS $QOS," \
  "$ROUNDS rounds"
drone_rates=()
pub_rates=()

run_drone() {
  local round=$1 topic="drone-$1" rc=0
  subscribe_checker "$topic"
  "$DRONE" run "$WORK/produce.yaml" -q --json "$WORK/drone-$round.json" -p "bootstrap=127.0.0.1:$PORT" \
    -p "topic=$topic" -p "messages=$N" -p "size=$S" -p "qos=$QOS" >&2 || rc=$?
  ((rc == 0)) || die "round $round: drone run exited with $rc"
  verify_round "$topic"
  python3 - "$WORK/drone-$round.json" "$N" <<'PYEOF'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
w = json.load(open(path))["workloads"]["load"]
if w["acked"] != n:
    sys.exit(f"drone acked {w['acked']} of {n} messages")
p = w["latency_ms"]["publish"]
print(f"{w['acked'] / w['load_seconds']:.0f} {w['load_seconds']:.3f} {p['p50']:.1f} {p['p99']:.1f}")
PYEOF
}

run_pub() {
  local round=$1 topic="pub-$1" t0 t1
  subscribe_checker "$topic"
  t0=$(now_ns)
  mosquitto_pub -h 127.0.0.1 -p "$PORT" -t "$topic" -q "$QOS" -l <"$WORK/messages.txt" ||
    die "round $round: mosquitto_pub failed"
  t1=$(now_ns)
  if grep -q "disconnected due to out of memory" "$WORK/mosquitto.log"; then
    die "round $round: the broker cut mosquitto_pub off ($(grep -m1 'out of memory' "$WORK/mosquitto.log"));" \
      "the native tool cannot publish N=$N here, use a smaller N"
  fi
  verify_round "$topic"
  python3 -c "import sys; n, t0, t1 = map(int, sys.argv[1:]); s = (t1 - t0) / 1e9; print(f'{n / s:.0f} {s:.3f}')" \
    "$N" "$t0" "$t1"
}

for ((round = 1; round <= ROUNDS; round++)); do
  out=$(run_drone "$round")
  read -r rate load_s p50 p99 <<<"$out"
  drone_rates+=("$rate")
  printf 'round %d  drone          %8d msg/s  (load %.3f s; publish p50 %s ms, p99 %s ms)\n' \
    "$round" "$rate" "$load_s" "$p50" "$p99"
  out=$(run_pub "$round")
  read -r rate secs <<<"$out"
  pub_rates+=("$rate")
  printf 'round %d  mosquitto_pub  %8d msg/s  (%.3f s wall-clock incl. start-up)\n' "$round" "$rate" "$secs"
done
echo "verified: a session subscribed before each round received exactly $N messages of $S bytes"

python3 - "$ROUNDS" "${drone_rates[*]}" "${pub_rates[*]}" <<'PYEOF'
import statistics, sys
rounds = int(sys.argv[1])
drone, pub = (statistics.median(float(x) for x in a.split()) for a in sys.argv[2:4])
print(f"drone/mosquitto_pub throughput ratio: {drone / pub:.2f} "
      f"(drone {drone:.0f} msg/s, mosquitto_pub {pub:.0f} msg/s, median of {rounds} rounds)")
PYEOF
