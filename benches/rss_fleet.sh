#!/bin/bash
# usage: benches/rss_fleet.sh BIN N SECONDS OUT — the TUI (tmux 160x48) on `sim serve
# --deployments N`'s kubeconfig (its Prometheus has 14 days of history for the backfill); the
# app's RSS (KiB) and thread count every 5 s into OUT. The app's data dir (history store) is
# left in OUT.data for inspection. APP_CONFIG=FILE runs the app with that config file.
BIN=$1; N=$2; SECS=$3; OUT=$4; D=$(mktemp -d); S=ai4k8s-rss$$
printf '[demo]\nhistory_hours = 24\n' > "$D/config.toml"
# The server runs from its own copy of the binary: run from the same file, the pages it reads
# are in the page cache for the app to map by fault-around, and count in the app's RSS (up to
# 10 MiB more), which a cluster elsewhere would not cause.
cp "$BIN" "$D/sim-serve"
"$D/sim-serve" sim serve --port 0 --speed 1 --seed 42 --deployments "$N" --config "$D/config.toml" \
  --data-dir "$D/server" --write-kubeconfig "$D/kubeconfig" > "$D/serve.out" 2> "$D/serve.err" &
SERVE=$!
until grep -q kubeconfig "$D/serve.out" 2>/dev/null; do sleep 0.2; done
mkdir -p "$OUT.data"
tmux -L $S new-session -d -s t -x 160 -y 48 \
  "env -u GROQ_API_KEY -u AI4K8S_CONFIG $BIN --kubeconfig $D/kubeconfig --data-dir $OUT.data ${APP_CONFIG:+--config $APP_CONFIG}; sleep 3600"
start=$(date +%s)
pid=""
while [ -z "$pid" ]; do
  sleep 0.1
  pid=$(pgrep -P "$(tmux -L $S list-panes -t t -F '#{pane_pid}')" ai4k8s | head -1)
done
echo "t_s rss_kib threads" > "$OUT"
while [ $(( $(date +%s) - start )) -le "$SECS" ]; do
  echo "$(( $(date +%s) - start )) $(ps -o rss=,nlwp= -p "$pid")" >> "$OUT"
  sleep 5
done
tmux -L $S capture-pane -p -t t > "$OUT.screen"
tmux -L $S kill-server
kill $SERVE
