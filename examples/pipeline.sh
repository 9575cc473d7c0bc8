#!/usr/bin/env bash
# A pure-shell pipeline with the sqlite3 CLI: stage 1 (fetch) feeds stage 2
# (count) through the queue; each stage is a loop of claim, work, complete
# that sleeps in queue_wait while its queue is empty. Runs until every job is
# done, then prints the audit trail of one job.
#   examples/pipeline.sh [path/to/liborq] [database]
set -euo pipefail
ext=${1:-target/release/liborq}
db=${2:-$(mktemp -d)/pipeline.db}

orq() { sqlite3 -cmd ".load $ext" -cmd ".timeout 5000" "$db" "$@"; }

for word in alpha beta gamma delta; do
  orq "SELECT queue_enqueue('fetch', json_object('word', '$word'))" >/dev/null
done

# One stage: claims a job of $1, runs $2 on its payload, completes it with
# the output as result. Exits when nothing arrived for 2 seconds.
stage() {
  local queue=$1 work=$2
  while [ "$(orq "SELECT queue_wait('$queue', 2)")" = 1 ]; do
    local job
    job=$(orq "SELECT id || ' ' || token || ' ' || payload FROM queue_claim('sh-$queue', 1, '$queue')")
    [ -n "$job" ] || continue          # another worker was first
    read -r id token payload <<<"$job"
    local result
    result=$($work "$payload")
    orq "SELECT queue_complete($id, $token, '$result')" >/dev/null
  done
}

fetch() {   # stage 1: "download" the word, hand it to stage 2
  local word
  word=$(sqlite3 :memory: "SELECT json_extract('$1', '\$.word')")
  orq "SELECT queue_enqueue('count', json_object('text', '$word $word $word'))" >/dev/null
  echo "{\"fetched\":\"$word\"}"
}

count() {   # stage 2: count the words
  echo "{\"words\":$(sqlite3 :memory: "SELECT json_extract('$1', '\$.text')" | wc -w)}"
}

stage fetch fetch &
stage count count &
wait

orq -header -column "SELECT queue, done, dead FROM queue_stats"
orq -header -column "SELECT seq, job, queue, type, worker FROM orq_events WHERE job = 1 ORDER BY seq"
