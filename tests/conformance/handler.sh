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
