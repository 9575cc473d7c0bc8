// The `orq serve` dashboard in real headless Chromium (Debian's package,
// never a downloaded browser), driven by playwright-core: live counts while
// another process enqueues, the retry button, the workflow DAG. Screenshots
// of every page go to target/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ORQ = process.env.ORQ_BIN || path.join(ROOT, 'target/bundled/release/orq');
const EXT = process.env.ORQ_EXT || path.join(ROOT, 'target/release/liborq');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'target/screenshots');

const dir = mkdtempSync(path.join(tmpdir(), 'orq-browser-'));
const DB = path.join(dir, 'queue.db');

// The orq command and the sqlite3 shell with liborq: other processes than
// the server, as an application and its workers would be.
const orq = (...args) => execFileSync(ORQ, ['--db', DB, ...args], { encoding: 'utf8' }).trim();
const sql = (query) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', '-cmd', `.load ${EXT}`, DB, query],
  { encoding: 'utf8' }).trim();

// Claims n jobs of `queue` as `worker` and settles each with `settle`
// (an SQL expression over id and token).
function work(queue, n, settle, worker = 'worker-1') {
  return sql(`CREATE TEMP TABLE c AS SELECT queue_claim_json('${worker}', ${n}, '${queue}') AS j;
    SELECT ${settle} FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.token') AS token
                           FROM c, json_each(c.j));`);
}

let server; let base; let context; let page;
const errors = [];
let dead = [];

function seed() {
  for (let i = 0; i < 12; i++) orq('enqueue', 'email', JSON.stringify({ to: `user${i}@example.com` }));
  sql(`SELECT queue_worker_register('worker-1', '{"host":"build-box","pid":4242,"concurrency":4,"queues":["email","sms","reports","etl"],"heartbeat":3600}')`);
  sql(`SELECT queue_worker_register('worker-2', '{"host":"build-box","pid":4243,"concurrency":2,"queues":["email"],"heartbeat":3600}')`);
  work('email', 8, `queue_record_run(id, token, '{"outcome":"done","wall":0.42,"user":0.2,"sys":0.03,"max_rss_kb":18432}'), queue_complete(id, token)`);
  for (let i = 0; i < 3; i++) orq('enqueue', 'sms', JSON.stringify({ n: i }));
  orq('enqueue', 'sms', '{"n":99}', '--priority', '9');
  work('sms', 1, "'claimed ' || id", 'worker-2'); // stays running
  orq('enqueue', 'reports', '{"kind":"weekly"}', '--delay', '1h');
  for (const e of ['SMTP timeout after 30s', 'template "invoice" not found']) {
    orq('enqueue', 'reports', '{"kind":"invoice"}', '--max-attempts', '1', '--priority', '5');
    work('reports', 1, `queue_fail(id, token, '${e.replace(/'/g, "''")}')`);
  }
  dead = sql("SELECT id FROM queue_jobs WHERE state = 'dead' ORDER BY id").split('\n').map(Number);
  const spec = {
    name: 'nightly-etl',
    jobs: [
      { key: 'extract', queue: 'etl', payload: { src: 's3://bucket/day' } },
      { key: 'validate', queue: 'etl', depends_on: ['extract'] },
      { key: 'enrich', queue: 'etl', depends_on: ['extract'] },
      { key: 'transform', queue: 'etl', depends_on: ['validate', 'enrich'] },
      { key: 'load', queue: 'etl', depends_on: ['transform'] },
      { key: 'report', queue: 'etl', depends_on: ['load'] },
    ],
  };
  writeFileSync(path.join(dir, 'wf.json'), JSON.stringify(spec));
  orq('workflow', 'submit', path.join(dir, 'wf.json'));
  work('etl', 1, 'queue_complete(id, token)'); // extract
  work('etl', 1, 'queue_complete(id, token)'); // validate
  work('etl', 1, "'claimed ' || id"); // enrich: running
  orq('alert', 'add', 'sms-backlog', 'ready', '>', '5', '--queue', 'sms');
}

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(ORQ, ['--db', DB, 'serve', '--bind', '127.0.0.1:0', '--interval', '1s'],
      { stdio: ['ignore', 'inherit', 'pipe'] });
    let text = '';
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (chunk) => {
      text += chunk;
      process.stderr.write(chunk);
      const m = text.match(/http:\/\/([^/\s]+)\//);
      if (m && !base) { base = `http://${m[1]}`; resolve(); }
    });
    server.on('exit', (code) => reject(new Error(`orq serve exited ${code}: ${text}`)));
    setTimeout(() => reject(new Error(`orq serve did not start: ${text}`)), 20000);
  });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  seed();
  await startServer();
  context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: 900 },
  });
  page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
});

after(async () => {
  if (context) await context.close();
  if (server) { server.removeAllListeners('exit'); server.kill('SIGTERM'); }
  rmSync(dir, { recursive: true, force: true });
});

const text = (sel) => page.locator(sel).first().textContent();

test('the overview shows counts that change live while another process enqueues', { timeout: 60000 }, async () => {
  await page.goto(`${base}/`);
  await page.waitForFunction(() => document.getElementById('live').textContent === 'live');
  const ready = Number(sql('SELECT sum(ready) FROM queue_stats'));
  await page.waitForFunction((n) => document.getElementById('count-ready')?.textContent === String(n), ready);
  assert.equal(await text('tr[data-queue="sms"] td[data-col="ready"]'), '3');
  assert.equal(await text('#count-dead'), '2');
  assert.equal(await text('#count-running'), '2');
  assert.equal(await page.locator('svg.chart').count(), 2);
  assert.ok(await page.locator('svg.chart rect.bar-done').count() >= 1, 'the throughput chart has a bar');
  await page.screenshot({ path: path.join(SHOTS, 'overview.png'), fullPage: true });

  await page.evaluate(() => { window.stillTheSamePage = true; });
  for (let i = 0; i < 5; i++) orq('enqueue', 'sms', JSON.stringify({ late: i }));
  await page.waitForFunction((n) => document.getElementById('count-ready').textContent === String(n), ready + 5,
    { timeout: 10000 });
  assert.equal(await text('tr[data-queue="sms"] td[data-col="ready"]'), '8');
  assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'the page was not reloaded');
  // 8 ready > 5: the alert rule fires, evaluated by the server every --interval.
  await page.locator('tr.alert-firing').waitFor({ timeout: 10000 });
  assert.match(await text('tr.alert-firing'), /sms-backlog/);
  await page.waitForFunction(() => document.getElementById('health-status')?.textContent === 'critical');
  await page.screenshot({ path: path.join(SHOTS, 'overview-after-enqueue.png'), fullPage: true });
});

test('the retry button moves a dead job back to ready', { timeout: 60000 }, async () => {
  await page.goto(`${base}/dead`);
  const [first, second] = dead;
  await page.locator(`tr[data-job="${first}"]`).waitFor();
  assert.equal(await page.locator('tr[data-job]').count(), 2);
  assert.match(await text(`tr[data-job="${first}"] td.error`), /SMTP timeout/);
  await page.screenshot({ path: path.join(SHOTS, 'dead-letters.png'), fullPage: true });
  await page.locator(`tr[data-job="${first}"] button.retry`).click();
  await page.locator(`tr[data-job="${first}"]`).waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(sql(`SELECT state || ' ' || attempts FROM queue_jobs WHERE id = ${first}`), 'ready 0');
  assert.equal(sql(`SELECT state FROM queue_jobs WHERE id = ${second}`), 'dead');
  assert.match(await text('#toast'), new RegExp(`job ${first} is ready again`));
  await page.locator(`tr[data-job="${second}"]`).waitFor();
});

test('the workflow page draws the DAG with each job state', { timeout: 60000 }, async () => {
  await page.goto(`${base}/workflows`);
  await page.locator('tr[data-workflow] a').first().click();
  await page.waitForURL(/\/workflows\/\d+$/);
  await page.locator('svg.dag g.node').first().waitFor();
  assert.equal(await page.locator('svg.dag g.node').count(), 6);
  assert.equal(await page.locator('svg.dag path.edge').count(), 6);
  const states = Object.fromEntries(await page.locator('svg.dag g.node').evaluateAll((nodes) => nodes.map((n) => [n.dataset.key, n.dataset.state])));
  assert.deepEqual(states, { extract: 'done', validate: 'done', enrich: 'running', transform: 'waiting', load: 'waiting', report: 'waiting' });
  // Left to right by depth: each column further right.
  const x = Object.fromEntries(await page.locator('svg.dag g.node').evaluateAll((nodes) => nodes.map((n) => [n.dataset.key, n.getBoundingClientRect().x])));
  assert.ok(x.extract < x.validate && x.validate === x.enrich && x.enrich < x.transform && x.transform < x.load && x.load < x.report, JSON.stringify(x));
  assert.equal(await page.locator('svg.dag path.edge[data-from="extract"][data-to="enrich"]').count(), 1);
  await page.screenshot({ path: path.join(SHOTS, 'workflow.png'), fullPage: true });
  // The graph follows the jobs live: enrich completes from another process.
  sql("SELECT queue_complete(id) FROM queue_jobs WHERE workflow_key = 'enrich'");
  await page.locator('svg.dag g.node[data-key="transform"][data-state="ready"]').waitFor({ timeout: 10000 });
  await page.locator('svg.dag g.node[data-key="enrich"]').click();
  await page.waitForURL(/\/jobs\/\d+$/);
  await page.getByRole('heading', { name: /Job #\d+/ }).waitFor();
});

test('the job browser, a job page and the workers page', { timeout: 60000 }, async () => {
  await page.goto(`${base}/jobs?queue=email`);
  await page.locator('tr[data-job]').first().waitFor();
  assert.equal(await page.locator('tr[data-job]').count(), 12);
  await page.screenshot({ path: path.join(SHOTS, 'jobs.png'), fullPage: true });
  await page.selectOption('select[name="state"]', 'ready');
  await page.waitForURL(/state=ready/);
  await page.waitForFunction(() => document.querySelectorAll('tr[data-job]').length === 4);

  await page.goto(`${base}/jobs/${dead[1]}`);
  await page.locator('table.history').waitFor();
  assert.deepEqual(await page.locator('table.history .event').allTextContents(), ['enqueued', 'claimed', 'dead']);
  assert.match(await text('pre.error'), /template "invoice" not found/);
  await page.screenshot({ path: path.join(SHOTS, 'job.png'), fullPage: true });

  await page.goto(`${base}/workers`);
  await page.locator('tr[data-worker="worker-1"]').waitFor();
  assert.match(await text('tr[data-worker="worker-2"]'), /1\/2/);
  await page.screenshot({ path: path.join(SHOTS, 'workers.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test("a running job's page lists its steps and shows its progress live", { timeout: 60000 }, async () => {
  const id = Number(orq('enqueue', 'render', '{"video":"intro.mp4"}'));
  const token = sql("SELECT token FROM queue_claim('worker-1', 1, 'render')");
  const report = (done, message) => sql(`SELECT queue_progress(${id}, ${token},
    json_object('done', ${done}, 'total', 10, 'message', '${message}'))`);
  sql(`SELECT queue_step_done(${id}, ${token}, 'download', '{"bytes": 73400320}'),
              queue_step_done(${id}, ${token}, 'transcode', '{"codec": "av1", "frames": 1440}'),
              queue_step_fail(${id}, ${token}, 'upload', 'S3: 503 Slow Down')`);
  report(2, 'uploading');
  await page.goto(`${base}/jobs/${id}`);
  await page.locator('table.steps').waitFor();
  assert.deepEqual(await page.locator('table.steps tr[data-step]').evaluateAll((rows) => rows.map((r) => r.dataset.step)),
    ['download', 'transcode', 'upload']);
  assert.match(await text('tr[data-step="transcode"]'), /\{"codec":"av1","frames":1440\}/);
  assert.match(await text('tr[data-step="upload"]'), /1\s*S3: 503 Slow Down/);
  const progress = () => page.locator('dl.fields .job-progress').textContent();
  assert.match(await progress(), /2\/10 uploading/);

  // Another process reports progress: no event, no count changes, yet the page follows.
  await page.evaluate(() => { window.stillTheSamePage = true; });
  report(7, 'uploading part 7');
  await page.waitForFunction(() => /7\/10 uploading part 7/.test(document.querySelector('dl.fields .job-progress')?.textContent),
    null, { timeout: 10000 });
  assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'the page was not reloaded');
  assert.equal(await page.locator('dl.fields .job-progress rect.fill').getAttribute('width'), '70');
  await page.screenshot({ path: path.join(SHOTS, 'job-steps.png'), fullPage: true });

  await page.goto(`${base}/jobs?state=running`);
  assert.match(await text(`tr[data-job="${id}"] .job-progress`), /7\/10 uploading part 7/);
  assert.deepEqual(errors, []);
});
