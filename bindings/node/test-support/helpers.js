'use strict';
// Shared by the tests; outside test/ because `node --test test/` runs every .js file there.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Queue } = require('..');

/** A fresh database file in its own temporary directory, removed after the test. */
function tempDb(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orq-node-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'queue.db');
}

/** A Queue on a fresh database, closed after the test. */
function tempQueue(t, options) {
  const q = new Queue(tempDb(t), options);
  t.after(() => q.close());
  return q;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Fixes a connection's queue clock, so leases run out without sleeping. */
function setClock(q, seconds) {
  return q.value('SELECT orq_clock(?)', seconds);
}

module.exports = { tempDb, tempQueue, sleep, setClock };
