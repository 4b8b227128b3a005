#!/bin/bash
# usage: benches/first_forecast.sh BIN [N] — milliseconds from launching the TUI on the kube
# path against `BIN sim serve` (the demo's 14 deployments, or N synthetic ones) to the first
# frame (the held one: "reading … history", or the table), to the table, to "history:
# prometheus-k8s via API proxy" and to the selected deployment's forecast ("+ 6h forecast"),
# in a 240x50 tmux pane; whether the table's first frame had the forecast; then the log's
# backfill and first-view lines, and the data dir.
BIN=$1; N=$2; D=$(mktemp -d); S=ai4k8s-fc$$
printf '[demo]\nhistory_hours = 24\n' > "$D/config.toml"
EXTRA=(); [ -n "$N" ] && EXTRA=(--deployments "$N")
"$BIN" sim serve --port 0 --speed 1 --seed 42 --config "$D/config.toml" --data-dir "$D/server-data" \
  --write-kubeconfig "$D/kubeconfig" "${EXTRA[@]}" > "$D/serve.out" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do grep -q kubeconfig "$D/serve.out" 2>/dev/null && break; sleep 0.1; done
: > "$D/app.toml"
start=$(date +%s%N)
tmux -L $S new-session -d -s t -x 240 -y 50 "env -u GROQ_API_KEY -u AI4K8S_CONFIG $BIN --kubeconfig $D/kubeconfig --config $D/app.toml --data-dir $D/app-data; sleep 600"
first=""; table=""; hist=""; fc=""; with=""
while true; do
  s=$(tmux -L $S capture-pane -p -t t)
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ -z "$first" ] && echo "$s" | grep -qE "Deployments \[all\] [1-9]|of history via" && first=$ms
  if [ -z "$table" ] && echo "$s" | grep -q "Deployments \[all\] [1-9]"; then
    table=$ms; echo "$s" | grep -q "+ 6h forecast" && with=yes || with=no
  fi
  [ -z "$hist" ] && echo "$s" | grep -q "history: prometheus-k8s via API proxy" && hist=$ms
  [ -z "$fc" ] && echo "$s" | grep -q "+ 6h forecast" && fc=$ms
  { [ -n "$fc" ] && [ -n "$hist" ]; } && break
  [ $ms -gt ${LIMIT_MS:-600000} ] && echo timeout && break
  sleep 0.1
done
echo "first_frame_ms=$first table_ms=$table table_had_forecast=$with history_ms=$hist forecast_ms=$fc"
tmux -L $S kill-server
kill $SERVER
grep -E "prometheus|first view" "$D/app-data/logs/ai4k8s.log"
echo "data dir $D"
