#!/bin/bash
# usage: scripts/fleet-footprint.sh DEPLOYMENTS SECONDS [BIN]
#
# The app's footprint on a fleet: `ai4k8s sim serve --deployments DEPLOYMENTS` on a free
# loopback port, the app on its kubeconfig in a detached tmux at 160x48 (no LLM key: rules),
# and the app's /proc/PID/status sampled every second for SECONDS: its threads and VmRSS.
# Prints one line per sample ("t_s threads rss_kib"), then the max and median of each and the
# app's threads by name at the sample with the most. BIN defaults to target/release/ai4k8s.
set -euo pipefail
N=${1:?deployments}; SECS=${2:?seconds}; BIN=${3:-target/release/ai4k8s}
BIN=$(realpath "$BIN")
D=$(mktemp -d); S=ai4k8s-fp$$
SERVER=""
cleanup() {
  tmux -L "$S" kill-server 2>/dev/null || true
  if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; fi
  rm -rf "$D"
}
trap cleanup EXIT

printf '[demo]\nhistory_hours = 24\n' > "$D/config.toml"
env -u GROQ_API_KEY -u AI4K8S_CONFIG "$BIN" sim serve --port 0 --speed 1 --seed 42 \
  --deployments "$N" --config "$D/config.toml" --data-dir "$D/server-data" \
  --write-kubeconfig "$D/kubeconfig" > "$D/serve.out" 2> "$D/serve.err" < /dev/null &
SERVER=$!
for _ in $(seq 600); do
  grep -q kubeconfig "$D/serve.out" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { echo "sim serve exited:"; cat "$D/serve.err"; exit 1; }
  sleep 0.1
done

# `exec`: the pane's process is the app itself.
tmux -L "$S" new-session -d -s t -x 160 -y 48 \
  "exec env -u GROQ_API_KEY -u AI4K8S_CONFIG $BIN --kubeconfig $D/kubeconfig --data-dir $D/app-data"
PID=$(tmux -L "$S" list-panes -t t -F '#{pane_pid}')

max_threads=0; names=""
: > "$D/samples"
for t in $(seq 1 "$SECS"); do
  sleep 1
  [ -r "/proc/$PID/status" ] || { echo "the app exited at ${t}s"; break; }
  threads=$(awk '/^Threads:/{print $2}' "/proc/$PID/status")
  rss=$(awk '/^VmRSS:/{print $2}' "/proc/$PID/status")
  echo "$t $threads $rss" | tee -a "$D/samples"
  if [ "$threads" -gt "$max_threads" ]; then
    max_threads=$threads
    names=$(cat /proc/"$PID"/task/*/comm 2>/dev/null | sort | uniq -c | sort -rn | tr -s ' ' | paste -sd, -)
  fi
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
echo "deployments=$N seconds=$SECS samples=$(wc -l < "$D/samples") cores=$(nproc)"
echo "threads: max=$(awk '{print $2}' "$D/samples" | sort -n | tail -1) median=$(awk '{print $2}' "$D/samples" | median)"
echo "rss_mib: max=$(awk '{print $3}' "$D/samples" | sort -n | tail -1 | awk '{printf "%.1f", $1/1024}') median=$(awk '{print $3}' "$D/samples" | median | awk '{printf "%.1f", $1/1024}')"
echo "rss_mib at 120 s: $(awk '$1==120{printf "%.1f", $3/1024}' "$D/samples")"
echo "threads by name at the max ($max_threads):$names"
