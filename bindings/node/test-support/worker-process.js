'use strict';
// The child process of worker.test.js's SIGTERM test: runs 'slow' jobs one at
// a time, prints "started" when a job begins, and ends when SIGTERM stopped it.
// (It lives outside test/ because `node --test test/` runs every .js file there.)

const { Queue } = require('..');

const q = new Queue(process.argv[2], { name: 'child' });
q.task('slow', async ({ ms }) => {
  process.stdout.write('started\n');
  await new Promise((resolve) => setTimeout(resolve, ms));
  return { slept: ms };
});

q.worker({ concurrency: 1 })
  .run()
  .then(() => q.close())
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
