'use strict';

// The conformance runtime for Node (see test_conformance.py):
// `node node_worker.js DB NAME GRACE`; the same handler as handler.sh.

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { setTimeout: sleep } = require('node:timers/promises');
const { Queue } = require('../../bindings/node');

const [db, name, grace] = process.argv.slice(2);
const q = new Queue(db, { name });

q.task('c', async (payload, job) => {
  if (payload.kind === 'short') {
    await sleep(300);
    return 'short done';
  }
  if (payload.kind === 'durable') {
    const tries = path.join(process.env.ORQ_CONFORMANCE_DIR, `tries-${job.id}`);
    const n = await job.step('fetch', () => {
      fs.appendFileSync(tries, 'x\n');
      if (fs.readFileSync(tries, 'utf8').split('\n').length - 1 < 2) throw new Error('first try');
      return 2;
    }, { attempts: 2, retryIn: 0 });
    await job.sleep(0.2);
    job.progress(1);
    return job.step('ship', () => `shipped ${n}`);
  }
  if (payload.kind === 'fork') spawn('sleep', ['300'], { detached: true, stdio: 'ignore' }).unref();
  const alive = path.join(process.env.ORQ_CONFORMANCE_DIR, `alive-${job.id}`);
  for (let i = 0; i < 600 && !job.signal.aborted; i++) {
    fs.writeFileSync(alive, '');
    await sleep(50);
  }
  return 'long done';
});

q.worker({ concurrency: 2, grace: Number(grace), idleWait: 0.05 }).run().then(() => q.close());
