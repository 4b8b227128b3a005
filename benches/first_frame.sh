#!/bin/bash
# usage: benches/first_frame.sh BIN N — ms from launch to the first frame and to the frame with all N rows (160x48 tmux)
BIN=$1; N=$2; S=ai4k8s-ff$$; D=$(mktemp -d)
start=$(date +%s%N)
tmux -L $S new-session -d -s t -x 160 -y 48 "env -u GROQ_API_KEY -u AI4K8S_CONFIG $BIN --demo --deployments $N --data-dir $D; sleep 30"
first=""; full=""
while true; do
  s=$(tmux -L $S capture-pane -p -t t)
  now=$(date +%s%N)
  if [ -z "$first" ] && echo "$s" | grep -q "Deployments \["; then first=$(( (now-start)/1000000 )); fi
  if echo "$s" | grep -q "Deployments \[all\] $N/$N"; then full=$(( (now-start)/1000000 )); break; fi
  if [ $(( (now-start)/1000000 )) -gt 120000 ]; then echo timeout; break; fi
  sleep 0.01
done
pid=$(tmux -L $S list-panes -t t -F '#{pane_pid}')
child=$(pgrep -P $pid ai4k8s | head -1)
rss=$(awk '/VmRSS/{print $2}' /proc/$child/status 2>/dev/null)
echo "N=$N first_frame_ms=$first full_table_ms=$full rss_kib=$rss"
tmux -L $S kill-server
