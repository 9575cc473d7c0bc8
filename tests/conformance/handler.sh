#!/bin/sh
# The conformance handler for `orq worker` (see test_conformance.py): the
# payload on stdin, the job's id in $ORQ_JOB_ID.
payload=$(cat)
alive="$ORQ_CONFORMANCE_DIR/alive-$ORQ_JOB_ID"
case "$payload" in
*'"kind":"short"'*)
  sleep 0.3
  echo '"short done"'
  exit 0
  ;;
*'"kind":"durable"'*)
  # A step that fails on its first try, a sleep, a step: the "durable"
  # scenario reads them from the job's history.
  set -e
  n=$(orq step fetch --attempts 2 --retry-in 0 -- sh -c 'f="$ORQ_CONFORMANCE_DIR/tries-$ORQ_JOB_ID"; echo x >> "$f"; [ "$(wc -l < "$f")" -ge 2 ] || exit 1; echo 2')
  orq sleep 1 0.2   # step sleep:1, as the packages number their sleeps
  orq progress 1
  orq step ship -- echo "\"shipped $n\""
  exit 0
  ;;
*'"kind":"fork"'*)
  setsid sleep 300 &
  ;;
esac
# long (and fork): show it runs until stopped, for 30 s at most.
i=0
while [ $i -lt 600 ]; do
  touch "$alive"
  sleep 0.05
  i=$((i + 1))
done
echo '"long done"'
