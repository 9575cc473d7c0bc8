'use strict';

/**
 * The watchdog of a Node worker: `node watchdog.js MARKER PID`.
 *
 * A worker's handlers run in its own process, so no keeper stands between
 * the worker and what a handler starts (compare `orq worker`'s job keeper).
 * The worker starts this process at run(), detached (a session of its own),
 * with a pipe on its stdin, and puts MARKER in its own environment: every
 * process a handler starts inherits it, double-forked and setsid'd ones too.
 * When the pipe closes — the worker stopped, or died, even of SIGKILL (the
 * kernel closes its end) — the watchdog kills every process of this user
 * whose environment holds MARKER, except the worker itself (PID) and itself.
 *
 * Limits: a process started with an environment of its own (an `env` option
 * without MARKER, `env -i`), one of another user, one the worker's process
 * started outside a handler while the worker ran (same environment). Killing
 * the watchdog itself turns it off.
 */

const fs = require('node:fs');

const ROUNDS = 50; // a process forking as fast as it is killed is still caught

function marked(marker, skip) {
  const found = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || skip.has(Number(name))) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(marker)) found.push(Number(name));
    } catch {
      // gone, or not ours
    }
  }
  return found;
}

function killMarked(marker, skip) {
  for (let round = 0; round < ROUNDS; round++) {
    const pids = marked(marker, skip);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

if (require.main === module) {
  const [marker, worker] = process.argv.slice(2);
  process.on('SIGINT', () => {}); // a terminal's ^C is for the worker
  process.stdin.resume();
  process.stdin.on('end', () => killMarked(marker, new Set([process.pid, Number(worker)])));
}

module.exports = { killMarked };
