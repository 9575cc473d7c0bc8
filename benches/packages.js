// Figure P, Node side: claim + complete through the orq Node package
// (bindings/node), batch 1 and batch 100, on a fresh database each. Run by
// bench.py; prints one JSON object of jobs/s.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Queue } = require('../bindings/node');

function drain(batch, jobs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orq-p-'));
  const q = new Queue(path.join(dir, 'p.db'), { name: 'bench' });
  try {
    q.enqueueMany('p', Array.from({ length: jobs }, (_, n) => ({ n, pad: 'x'.repeat(80) })));
    const started = process.hrtime.bigint();
    for (;;) {
      const claimed = q.claimMany('p', batch);
      if (claimed.length === 0) break;
      if (batch === 1) claimed[0].complete();
      else q.completeMany(claimed);
    }
    return jobs / (Number(process.hrtime.bigint() - started) / 1e9);
  } finally {
    q.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const jobs = Number(process.argv[2] ?? 10000);
console.log(JSON.stringify({ batch1: drain(1, jobs / 2), batch100: drain(100, jobs) }));
