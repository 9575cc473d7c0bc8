'use strict';
// The child process of log.test.js: one job that succeeds and one that fails,
// run by a worker whose stderr the test reads. argv: database, then the
// worker's logFormat ('' for none: the environment or the default decides).

const { Queue } = require('..');

const q = new Queue(process.argv[2], { name: 'logger' });
q.task('email', ({ to }) => {
  if (to === 'nobody') throw new RangeError('no such address\nat all');
  return { sent: to };
});
const ok = q.enqueue('email', { to: 'a@b.c' }, { max_attempts: 1 });
const bad = q.enqueue('email', { to: 'nobody' }, { max_attempts: 1 });
process.stdout.write(JSON.stringify({ ok, bad }));

const worker = q.worker({ concurrency: 1, handleSignals: false, idleWait: 0.05, logFormat: process.argv[3] || undefined });
const run = worker.run();
(async () => {
  while (worker.done + worker.failed < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  await worker.stop();
  await run;
  q.close();
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
