// A Node worker: runs async handlers for two queues, 8 at a time, until
// SIGINT/SIGTERM, then lets running jobs finish.
//
//   npm install ./bindings/node               (builds liborq with cargo)
//   node examples/worker.mjs shop.db
//
// Jobs come from anywhere: the Python outbox app (examples/outbox_app.py),
// `orq enqueue ship '{"order": 1}'`, or SQL in the sqlite3 shell.
import { Queue } from 'orq';

const q = new Queue(process.argv[2] ?? 'shop.db', { name: `node-worker-${process.pid}` });

q.task('ship', async ({ order, item }, job) => {
  await new Promise((resolve) => setTimeout(resolve, 100)); // call the carrier's API here
  console.log(`shipped order ${order} (${item}), attempt ${job.attempt}`);
  return { tracking: `TRK-${order}` };                      // stored as the job's result
}, { max_attempts: 5 });

q.task('email', async ({ to }) => {
  if (!to) throw new Error('no recipient');                 // fails the attempt; retried with backoff
  return { sent: to };
});

const worker = q.worker({ concurrency: 8 });
console.log(`worker ${worker.name} waiting for jobs of ${worker.queues.join(', ')}`);
await worker.run();
console.log(`stopped: ${worker.done} done, ${worker.failed} failed`);
q.close();
