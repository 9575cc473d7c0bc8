// The orq dashboard: draws the page the path names from the JSON endpoints
// under /api/, and redraws it when the server's event stream says the
// database changed. No framework and no build step: the server embeds this
// file. Text from the database only ever goes into text nodes.
'use strict';

const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
const CSRF = meta('orq-csrf');
const READ_ONLY = meta('orq-read-only') === 'true';
const main = document.getElementById('main');
const STATES = ['waiting', 'ready', 'running', 'done', 'dead', 'cancelled'];
const SVG_NS = 'http://www.w3.org/2000/svg';

let snapshot = null; // the latest overview, from /events/stream
let page = null; // the page on screen: {refresh(), onSnapshot?()}
let serverSkew = 0; // server clock minus ours, seconds

// ---------------------------------------------------------------- DOM

function attrs(el, a) {
  for (const [k, v] of Object.entries(a || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return el;
}

function add(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const h = (tag, a, ...children) => add(attrs(document.createElement(tag), a), children);
const s = (tag, a, ...children) => add(attrs(document.createElementNS(SVG_NS, tag), a), children);

function toast(text, bad) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.className = bad ? 'bad' : '';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

// ---------------------------------------------------------------- formats

const now = () => Date.now() / 1000 + serverSkew;

function duration(sec) {
  if (sec === null || sec === undefined) return '–';
  sec = Math.abs(sec);
  if (sec < 1) return `${Math.round(sec * 1000)}ms`;
  if (sec < 120) return `${Math.round(sec)}s`;
  if (sec < 7200) return `${Math.round(sec / 60)}m`;
  if (sec < 172800) return `${Math.round(sec / 3600)}h`;
  return `${Math.round(sec / 86400)}d`;
}

// How long a queue keeps its finished jobs (queue_stats.retention): "7d / 30d / 7d", ∞ for forever.
function retentionCell(r) {
  const states = ['done', 'dead', 'cancelled'];
  const kept = (s) => (r && r[s] !== null && r[s] !== undefined ? duration(r[s]) : '∞');
  return h('td', { class: 'num', 'data-col': 'retention', title: r ? states.map((s) => `${s}: kept ${kept(s)}`).join(', ') : '' },
    r ? states.map(kept).join(' / ') : '–');
}

function ago(t) {
  if (t === null || t === undefined) return '–';
  const d = t - now();
  if (Math.abs(d) < 1) return 'now';
  return d > 0 ? `in ${duration(d)}` : `${duration(d)} ago`;
}

function clock(t) {
  if (t === null || t === undefined) return '';
  const d = new Date(t * 1000);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

const when = (t) => h('time', { title: clock(t) }, ago(t));
const num = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
const state = (st) => h('span', { class: `state state-${st}` }, st);
const cut = (text, max) => (text && text.length > max ? `${text.slice(0, max - 1)}…` : text || '');
const pretty = (v) => (v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v, null, 2));
const link = (href, ...children) => h('a', { href }, ...children);

function table(headers, rows, cls) {
  // A header sits over its numbers: right-aligned when its cells are.
  const first = rows[0] ? rows[0].children : [];
  return h('table', { class: cls || '' },
    h('thead', {}, h('tr', {}, headers.map((x, i) => h('th', { class: first[i] && first[i].classList.contains('num') ? 'num' : '' }, x)))),
    h('tbody', {}, rows));
}

function empty(text) { return h('p', { class: 'empty' }, text); }

// A bar `width` pixels wide, filled to `fraction` (0 to 1).
function bar(fraction, width) {
  const pct = Math.max(0, Math.min(100, Math.round(100 * fraction)));
  return s('svg', { viewBox: '0 0 100 8', width, height: 8, preserveAspectRatio: 'none' },
    s('rect', { width: 100, height: 8, class: 'track' }), s('rect', { width: pct, height: 8, class: 'fill' }));
}

// A job's last progress report (queue_progress), as `orq watch` words it: a
// number from 0 to 1 is a percentage, {done, total} counts, then the message
// (or the string); the packages send a number with a message as {value,
// message}. Those with a fraction get a bar; other JSON shows as it is.
function jobProgress(p) {
  if (p === null || p === undefined) return null;
  const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
  const value = p && typeof p === 'object' && 'value' in p ? p.value : p;
  let fraction = null; let amount = null;
  if (p && isNum(p.done) && isNum(p.total)) {
    fraction = p.total > 0 ? p.done / p.total : null;
    amount = `${num(p.done)}/${num(p.total)}`;
  } else if (isNum(value)) {
    fraction = value >= 0 && value <= 1 ? value : null;
    amount = fraction === null ? num(value) : `${Math.round(100 * value)}%`;
  }
  const message = typeof p === 'string' ? p : p && typeof p.message === 'string' ? p.message : null;
  const words = cut([amount, message].filter((x) => x !== null).join(' ') || JSON.stringify(p), 80);
  return h('span', { class: 'progress job-progress', title: JSON.stringify(p) },
    fraction === null ? words : [bar(fraction, 100), ` ${words}`]);
}

// ---------------------------------------------------------------- server

async function api(path) {
  const r = await fetch(path, { headers: { Accept: 'application/json' } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${r.status} ${r.statusText}`);
  return body;
}

// Actions are POSTs carrying the page's CSRF token (auth.rs).
async function act(path, body, done) {
  try {
    const r = await fetch(path, {
      method: 'POST',
      headers: { 'X-CSRF-Token': CSRF, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body || {}),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || `${r.status} ${r.statusText}`);
    if (done) toast(done(data));
    if (page) page.refresh();
    return data;
  } catch (e) {
    toast(`failed: ${e.message}`, true);
    return null;
  }
}

function button(label, onclick, cls) {
  if (READ_ONLY) return null;
  return h('button', { type: 'button', class: cls || '', onclick }, label);
}

function jobActions(job) {
  const out = [];
  if (job.state === 'dead' || job.state === 'cancelled') {
    out.push(button('Retry', () => act(`/api/jobs/${job.id}/retry`, null,
      (d) => (d.changed ? `job ${job.id} is ${d.state} again` : `job ${job.id} unchanged (${d.state})`)), 'retry'));
  }
  if (job.state === 'waiting' || job.state === 'ready' || job.state === 'running') {
    out.push(button('Cancel', () => act(`/api/jobs/${job.id}/cancel`, null,
      (d) => (d.changed ? `job ${job.id} cancelled` : `job ${job.id} unchanged (${d.state})`)), 'cancel'));
  }
  return out;
}

// ---------------------------------------------------------------- charts

function niceMax(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const CHART = { w: 560, h: 170, l: 44, r: 8, t: 10, b: 22 };

function axes(svg, max, n, start, step) {
  const { w, h: ht, l, r, t, b } = CHART;
  for (const f of [0, 0.5, 1]) {
    const y = ht - b - f * (ht - t - b);
    svg.append(s('line', { x1: l, x2: w - r, y1: y, y2: y, class: 'grid' }));
    svg.append(s('text', { x: l - 6, y: y + 4, class: 'axis', 'text-anchor': 'end' }, num(max * f)));
  }
  const labels = [[0, `${Math.round((n * step) / 60)}m ago`], [n / 2, `${Math.round((n * step) / 120)}m ago`], [n, 'now']];
  for (const [i, text] of labels) {
    const x = l + (i / n) * (w - l - r);
    svg.append(s('text', { x, y: ht - 6, class: 'axis', 'text-anchor': i === 0 ? 'start' : i === n ? 'end' : 'middle' }, text));
  }
}

// Stacked bars, one per minute: [{name, cls, values}].
function barChart(label, start, step, stacks) {
  const { w, h: ht, l, r, t, b } = CHART;
  const n = stacks[0].values.length;
  const totals = stacks[0].values.map((_, i) => stacks.reduce((a, st) => a + st.values[i], 0));
  const max = niceMax(Math.max(...totals));
  const svg = s('svg', { viewBox: `0 0 ${w} ${ht}`, class: 'chart', role: 'img', 'aria-label': label });
  axes(svg, max, n, start, step);
  const bw = (w - l - r) / n;
  for (let i = 0; i < n; i++) {
    let y = ht - b;
    const tip = `${clock(start + i * step).slice(11, 16)}: ${stacks.map((st) => `${st.values[i]} ${st.name}`).join(', ')}`;
    for (const st of stacks) {
      const height = (st.values[i] / max) * (ht - t - b);
      if (height > 0) {
        svg.append(s('rect', { x: l + i * bw + 0.5, y: y - height, width: Math.max(bw - 1, 0.5), height, class: st.cls },
          s('title', {}, tip)));
      }
      y -= height;
    }
  }
  return svg;
}

function lineChart(label, start, step, values, cls) {
  const { w, h: ht, l, r, t, b } = CHART;
  const n = values.length;
  const max = niceMax(Math.max(...values));
  const svg = s('svg', { viewBox: `0 0 ${w} ${ht}`, class: 'chart', role: 'img', 'aria-label': label });
  axes(svg, max, n, start, step);
  const x = (i) => l + ((i + 0.5) / n) * (w - l - r);
  const y = (v) => ht - b - (v / max) * (ht - t - b);
  const pts = values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  svg.append(s('path', { d: `M${x(0)},${ht - b} L${pts.join(' L')} L${x(n - 1)},${ht - b} Z`, class: `area ${cls}` }));
  svg.append(s('polyline', { points: pts.join(' '), class: `line ${cls}` }));
  svg.append(s('text', { x: w - r, y: t + 10, class: 'axis now-value', 'text-anchor': 'end' }, `now ${num(values[n - 1])}`));
  return svg;
}

function sparkline(values) {
  const w = 90; const ht = 22;
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${((i / (values.length - 1)) * w).toFixed(1)},${(ht - 2 - (v / max) * (ht - 4)).toFixed(1)}`);
  return s('svg', { viewBox: `0 0 ${w} ${ht}`, class: 'spark', width: w, height: ht, 'aria-hidden': 'true' },
    s('polyline', { points: pts.join(' ') }));
}

// ---------------------------------------------------------------- overview

function overviewPage() {
  const cards = h('section', { class: 'cards' });
  const charts = h('section', { class: 'charts' });
  const queues = h('section', {});
  const limits = h('section', {});
  const alerts = h('section', {});
  const health = h('section', {});
  main.replaceChildren(h('h1', {}, 'Overview'), cards, charts, h('h2', {}, 'Queues'), queues, limits, alerts, health);

  const draw = (o) => {
    const t = o.totals || {};
    const lastMinute = (o.queues || []).reduce((a, q) => a + (q.done_last_minute || 0), 0);
    const card = (id, label, value, cls, href) => h('a', { class: `card ${cls || ''}`, href: href || '/jobs' },
      h('span', { class: 'value', id }, num(value)), h('span', { class: 'label' }, label));
    cards.replaceChildren(
      card('count-ready', 'ready', t.ready || 0, 'ready', '/jobs?state=ready'),
      card('count-scheduled', 'scheduled', t.scheduled || 0, 'ready', '/jobs?state=ready'),
      card('count-running', 'running', t.running || 0, 'running', '/jobs?state=running'),
      card('count-waiting', 'waiting for parents', t.waiting || 0, 'waiting', '/jobs?state=waiting'),
      card('count-dead', 'dead', t.dead || 0, (t.dead || 0) > 0 ? 'dead' : '', '/dead'),
      card('count-done-minute', 'done in the last minute', lastMinute, 'done', '/jobs?state=done'),
      card('count-workers', 'workers alive', (o.workers || {}).alive || 0, '', '/workers'));
    const c = o.chart;
    if (c) {
      charts.replaceChildren(
        h('figure', {}, h('figcaption', {}, 'Jobs finished per minute (done, failed attempts)'),
          barChart('throughput', c.start, c.step, [
            { name: 'done', cls: 'bar-done', values: c.total.done },
            { name: 'failed', cls: 'bar-failed', values: c.total.failed }])),
        h('figure', {}, h('figcaption', {}, 'Jobs waiting to run (ready, scheduled, waiting)'),
          lineChart('queue depth', c.start, c.step, c.total.depth, 'depth')));
    }
    const rows = (o.queues || []).map((q) => h('tr', { 'data-queue': q.queue },
      h('td', {}, link(`/jobs?queue=${encodeURIComponent(q.queue)}`, q.queue), q.paused ? h('span', { class: 'tag' }, 'paused') : null),
      ['ready', 'scheduled', 'running', 'waiting', 'done', 'dead', 'cancelled'].map((k) => h('td', { class: `num col-${k}`, 'data-col': k },
        k === 'dead' && q.dead > 0 ? link(`/dead?queue=${encodeURIComponent(q.queue)}`, num(q.dead)) : num(q[k]))),
      h('td', { class: 'num', 'data-col': 'done_last_minute' }, num(q.done_last_minute)),
      h('td', { class: 'num' }, q.oldest_ready_age ? duration(q.oldest_ready_age) : '–'),
      retentionCell(q.retention),
      h('td', {}, c && c.queues[q.queue] ? sparkline(c.queues[q.queue].depth) : null),
      h('td', { class: 'actions' }, q.paused
        ? button('Resume', () => act(`/api/queues/${encodeURIComponent(q.queue)}/resume`, null, () => `${q.queue} resumed`))
        : button('Pause', () => act(`/api/queues/${encodeURIComponent(q.queue)}/pause`, null, () => `${q.queue} paused`)))));
    queues.replaceChildren(rows.length ? table(
      ['queue', 'ready', 'scheduled', 'running', 'waiting', 'done', 'dead', 'cancelled', 'done/min', 'oldest ready', 'kept (done/dead/cancelled)', 'depth, 1h', ''],
      rows, 'queues') : empty('No queues yet: enqueue a job (orq enqueue QUEUE PAYLOAD).'));
    const held = o.limits || [];
    const rate = (l) => (l.rate_limit === null || l.rate_limit === undefined ? '–' : `${num(l.rate_limit)} per ${duration(l.rate_per)}`);
    limits.replaceChildren(...(held.length ? [h('h2', {}, 'Limits'), table(
      ['queue', 'applies to', 'max running', 'running', 'rate', 'claims in window', 'held back'],
      held.map((l) => h('tr', { 'data-queue': l.queue, 'data-scope': l.scope },
        h('td', {}, l.queue),
        h('td', {}, l.scope === 'group' ? `group ${l.grp}` : l.scope),
        h('td', { class: 'num' }, l.max_running === null ? '–' : num(l.max_running)),
        h('td', { class: 'num' }, l.running === null ? '–' : num(l.running)),
        h('td', {}, rate(l)),
        h('td', { class: 'num' }, l.rate_used === null ? '–' : num(l.rate_used)),
        h('td', { class: 'num', 'data-col': 'held_back' }, l.held_back === null || l.held_back === undefined ? '' : num(l.held_back)))),
      'limits')] : []));
    const rules = o.alerts || [];
    alerts.replaceChildren(...(rules.length ? [h('h2', {}, 'Alerts'), table(
      ['alert', 'queue', 'rule', 'state', 'value', 'since'],
      rules.map((a) => h('tr', { class: `alert-${a.state}` },
        h('td', {}, a.name), h('td', {}, a.queue || 'any'),
        h('td', { class: 'mono' }, `${a.metric} ${a.op} ${a.threshold}${a.for_seconds ? ` for ${duration(a.for_seconds)}` : ''}`),
        h('td', {}, h('span', { class: `state alert-${a.state}` }, a.state)),
        h('td', { class: 'num' }, a.value === null || a.value === undefined ? '–' : num(a.value)),
        h('td', {}, a.since ? when(a.since) : '–'))))] : []));
  };

  const drawHealth = async () => {
    try {
      // quick_check reads every page: not for a panel that refreshes itself.
      const report = await api('/api/health?quick_check=false');
      health.replaceChildren(h('h2', {}, 'Health ', h('span', { class: `state health-${report.status}`, id: 'health-status' }, report.status)),
        table(['check', 'status', 'value', 'detail'], (report.checks || []).map((c) => h('tr', {},
          h('td', {}, c.name), h('td', {}, h('span', { class: `state health-${c.status}` }, c.status)),
          h('td', { class: 'num' }, c.value === null || c.value === undefined ? '–' : typeof c.value === 'number' ? num(c.value) : String(c.value)),
          h('td', {}, c.detail || '')))));
    } catch (e) {
      health.replaceChildren(h('h2', {}, 'Health'), empty(`unavailable: ${e.message}`));
    }
  };
  // /health runs PRAGMA quick_check, which reads the whole database: it is
  // fetched every 30 s, and at once when an alert changes state.
  drawHealth();
  const healthTimer = setInterval(drawHealth, 30000);
  let alertStates = null;
  const onSnapshot = () => {
    draw(snapshot);
    const states = JSON.stringify((snapshot.alerts || []).map((a) => [a.name, a.state]));
    if (alertStates !== null && states !== alertStates) drawHealth();
    alertStates = states;
  };
  const refresh = async () => { draw(snapshot || await api('/api/overview')); };
  return { refresh, onSnapshot, leave: () => clearInterval(healthTimer) };
}

// ---------------------------------------------------------------- jobs

function queueOptions(selected) {
  const names = new Set((snapshot ? snapshot.queues : []).map((q) => q.queue));
  if (selected) names.add(selected);
  return [h('option', { value: '' }, 'every queue'), [...names].sort().map((q) => h('option', { value: q, selected: q === selected }, q))];
}

function jobRows(jobs, { showState = true } = {}) {
  return jobs.map((j) => h('tr', { 'data-job': j.id, 'data-state': j.state },
    h('td', { class: 'num' }, link(`/jobs/${j.id}`, `#${j.id}`)),
    h('td', {}, j.queue),
    showState ? h('td', {}, state(j.state), j.state === 'running' ? jobProgress(j.progress) : null) : null,
    h('td', { class: 'num' }, `${j.attempts}/${j.max_attempts}`),
    h('td', { class: 'num' }, j.priority),
    h('td', {}, j.state === 'ready' ? when(j.run_at) : when(j.finished_at || j.started_at || j.created_at)),
    h('td', {}, j.worker || ''),
    h('td', { class: 'error', title: j.error || '' }, cut(j.error, 80)),
    h('td', { class: 'actions' }, jobActions(j))));
}

// A filtered, keyset-paged list of jobs; `base` is the page's own path.
function jobList(base, params, fixedState) {
  const q = params.get('queue') || '';
  const st = fixedState || params.get('state') || '';
  const list = h('div', {});
  const pager = h('nav', { class: 'pager' });
  const form = h('form', { class: 'filters', onsubmit: (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const next = new URLSearchParams();
    for (const [k, v] of f) if (v) next.set(k, v);
    go(`${base}${next.toString() ? `?${next}` : ''}`);
  } },
  h('label', {}, 'queue ', h('select', { name: 'queue', onchange: (e) => e.target.form.requestSubmit() }, queueOptions(q))),
  fixedState ? null : h('label', {}, 'state ', h('select', { name: 'state', onchange: (e) => e.target.form.requestSubmit() },
    h('option', { value: '' }, 'any'), STATES.map((x) => h('option', { value: x, selected: x === st }, x)))));
  let shown = [];
  const refresh = async () => {
    const p = new URLSearchParams();
    if (q) p.set('queue', q);
    if (st) p.set('state', st);
    for (const k of ['before', 'after']) if (params.get(k)) p.set(k, params.get(k));
    const data = await api(`/api/jobs?${p}`);
    shown = data.jobs;
    list.replaceChildren(data.jobs.length
      ? table(['id', 'queue', fixedState ? null : 'state', 'attempts', 'priority', fixedState ? 'finished' : 'when', 'worker', 'error', ''].filter((x) => x !== null),
        jobRows(data.jobs, { showState: !fixedState }), 'jobs')
      : empty('No jobs match.'));
    const keep = new URLSearchParams();
    if (q) keep.set('queue', q);
    if (st && !fixedState) keep.set('state', st);
    const at = (k, v) => { const x = new URLSearchParams(keep); x.set(k, v); return `${base}?${x}`; };
    pager.replaceChildren(
      data.newer ? link(at('after', data.newer), '← newer') : h('span', { class: 'off' }, '← newer'),
      data.older ? link(at('before', data.older), 'older →') : h('span', { class: 'off' }, 'older →'));
  };
  return { form, list, pager, refresh, shown: () => shown, queue: q };
}

function jobsPage(_, params) {
  const jl = jobList('/jobs', params);
  main.replaceChildren(h('h1', {}, 'Jobs'), jl.form, jl.list, jl.pager);
  return { refresh: jl.refresh };
}

/** The page of one job or workflow: crumbs back to its list, and what
 * `render` makes of `url`'s answer, drawn again at each refresh. */
function detailPage(listPath, listName, id, url, render) {
  const body = h('div', {});
  main.replaceChildren(h('p', { class: 'crumbs' }, link(listPath, listName), ' / ', `#${id}`), body);
  const refresh = async () => {
    let data;
    try { data = await api(url); } catch (e) { body.replaceChildren(empty(e.message)); return; }
    body.replaceChildren(...render(data));
  };
  return { refresh };
}

function jobPage([id]) {
  return detailPage('/jobs', 'Jobs', id, `/api/jobs/${id}`, (data) => {
    const j = data.job;
    const field = (k, v) => [h('dt', {}, k), h('dd', {}, v === null || v === undefined || v === '' ? '–' : v)];
    const fields = h('dl', { class: 'fields' },
      field('queue', link(`/jobs?queue=${encodeURIComponent(j.queue)}`, j.queue)),
      field('attempts', `${j.attempts} of ${j.max_attempts}`),
      field('progress', jobProgress(j.progress)),
      field('priority', j.priority),
      field(j.state === 'ready' ? 'due' : 'run at', when(j.run_at)),
      field('created', when(j.created_at)),
      field('started', j.started_at && when(j.started_at)),
      field('finished', j.finished_at && when(j.finished_at)),
      field('worker', j.worker),
      field('lease until', j.state === 'running' ? when(j.lease_until) : null),
      field('key', j.key),
      field('workflow', j.workflow && link(`/workflows/${j.workflow}`, `#${j.workflow} ${j.workflow_key || ''}`)),
      field('timeout', j.timeout && duration(j.timeout)),
      field('requires', j.requires && JSON.stringify(j.requires)));
    const block = (title, v, cls) => (v === null || v === undefined ? null
      : h('section', {}, h('h2', {}, title), h('pre', { class: cls || '' }, pretty(v))));
    const history = table(['seq', 'time', 'event', 'from → to', 'worker', 'attempt', 'detail'],
      data.history.map((e) => h('tr', {},
        h('td', { class: 'num' }, e.seq), h('td', {}, h('time', { title: ago(e.at) }, clock(e.at))),
        h('td', {}, h('span', { class: `event event-${e.type}` }, e.type)),
        h('td', {}, e.from_state ? state(e.from_state) : '', ' → ', state(e.to_state)),
        h('td', {}, e.worker || ''), h('td', { class: 'num' }, e.attempt),
        h('td', { class: 'mono' }, e.detail ? JSON.stringify(e.detail) : ''))), 'history');
    // A step without a result yet has failed tries (queue_step_fail).
    const steps = table(['step', 'recorded', 'result', 'failures', 'last error'],
      data.steps.map((st) => h('tr', { 'data-step': st.name },
        h('td', {}, st.name),
        h('td', {}, st.recorded_at === null ? '–' : h('time', { title: ago(st.recorded_at) }, clock(st.recorded_at))),
        h('td', { class: 'mono', title: pretty(st.result) }, st.recorded_at === null ? '' : cut(JSON.stringify(st.result), 80)),
        h('td', { class: 'num' }, st.failures),
        h('td', { class: 'error', title: st.error || '' }, cut(st.error, 80)))), 'steps');
    return [
      h('h1', {}, `Job #${j.id} `, state(j.state), h('span', { class: 'actions' }, jobActions(j))),
      fields,
      h('div', { class: 'blocks' }, block('Payload', j.payload), block('Result', j.result), block('Error', j.error, 'error')),
      ...(data.steps.length ? [h('h2', {}, 'Steps'), steps] : []),
      h('h2', {}, 'History'), history];
  });
}

function deadPage(_, params) {
  const st = params.get('state') === 'cancelled' ? 'cancelled' : 'dead';
  const jl = jobList('/dead', params, st);
  const tabs = h('nav', { class: 'tabs' },
    ['dead', 'cancelled'].map((x) => link(`/dead?state=${x}${jl.queue ? `&queue=${encodeURIComponent(jl.queue)}` : ''}`,
      h('span', { class: x === st ? 'on' : '' }, x))));
  const retryAll = button('Retry every job shown', async () => {
    const jobs = jl.shown();
    if (!jobs.length || !window.confirm(`Retry ${jobs.length} jobs?`)) return;
    let n = 0;
    for (const j of jobs) if (await act(`/api/jobs/${j.id}/retry`)) n++;
    toast(`${n} jobs retried`);
  });
  const purge = READ_ONLY ? null : h('form', { class: 'purge', onsubmit: (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const queue = f.get('queue') || null;
    const olderThan = f.get('older_than');
    if (!window.confirm(`Delete every finished job (done, dead, cancelled) of ${queue || 'every queue'} that finished more than ${olderThan} ago, with its history?`)) return;
    act('/api/purge', { queue, older_than: olderThan }, (d) => `purged ${d.purged} jobs`);
  } },
  h('strong', {}, 'Purge finished jobs '),
  h('label', {}, 'of ', h('select', { name: 'queue' }, queueOptions(jl.queue))),
  h('label', {}, ' that finished more than ', h('input', { name: 'older_than', value: '7d', size: 5, pattern: '[0-9.]+(ms|s|m|h|d)?', required: true }), ' ago '),
  h('button', { type: 'submit', class: 'danger' }, 'Purge'));
  main.replaceChildren(h('h1', {}, 'Dead letters'),
    h('p', { class: 'hint' }, 'Jobs whose attempts ran out (dead), or that were cancelled. Retrying makes a job ready now with fresh attempts.'),
    tabs, h('div', { class: 'row' }, jl.form, retryAll), jl.list, jl.pager, purge);
  return { refresh: jl.refresh };
}

// ---------------------------------------------------------------- workflows

function progress(done, total) {
  return h('span', { class: 'progress', title: `${done} of ${total}` }, bar(total ? done / total : 0, 100), ` ${done}/${total}`);
}

function workflowsPage() {
  const list = h('div', {});
  main.replaceChildren(h('h1', {}, 'Workflows'), list);
  const refresh = async () => {
    const data = await api('/api/workflows');
    list.replaceChildren(data.workflows.length ? table(
      ['id', 'name', 'state', 'progress', 'running', 'ready', 'waiting', 'dead', 'cancelled', 'started', 'finished'],
      data.workflows.map((w) => h('tr', { 'data-workflow': w.id },
        h('td', { class: 'num' }, link(`/workflows/${w.id}`, `#${w.id}`)),
        h('td', {}, link(`/workflows/${w.id}`, w.name || '')), h('td', {}, state(w.state)),
        h('td', {}, progress(w.done, w.jobs)),
        ['running', 'ready', 'waiting', 'dead', 'cancelled'].map((k) => h('td', { class: 'num' }, num(w[k]))),
        h('td', {}, when(w.started_at)), h('td', {}, w.finished_at ? when(w.finished_at) : '–'))), 'workflows')
      : empty('No workflows yet (orq workflow submit FILE.json).'));
  };
  return { refresh };
}

function dag(graph) {
  const W = graph.node_width; const H = graph.node_height;
  const at = Object.fromEntries(graph.nodes.map((n) => [n.key, n]));
  const svg = s('svg', { viewBox: `0 0 ${graph.width} ${graph.height}`, width: graph.width, height: graph.height,
    class: 'dag', role: 'img', 'aria-label': 'workflow graph' },
  s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))));
  for (const e of graph.edges) {
    const a = at[e.from]; const b = at[e.to];
    if (!a || !b) continue;
    const x1 = a.x + W; const y1 = a.y + H / 2; const x2 = b.x; const y2 = b.y + H / 2; const dx = (x2 - x1) / 2;
    svg.append(s('path', { d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2 - 1},${y2}`,
      class: `edge edge-${a.state}`, 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to }));
  }
  for (const n of graph.nodes) {
    const g = s('g', { class: `node state-${n.state}`, transform: `translate(${n.x},${n.y})`, 'data-key': n.key, 'data-state': n.state,
      tabindex: 0, onclick: () => go(`/jobs/${n.id}`), onkeydown: (e) => { if (e.key === 'Enter') go(`/jobs/${n.id}`); } },
    s('title', {}, `${n.key} (#${n.id}, ${n.queue}): ${n.state}, attempt ${n.attempts}/${n.max_attempts}${n.error ? `\n${n.error}` : ''}`),
    s('rect', { width: W, height: H, rx: 7 }),
    s('text', { x: 12, y: 20, class: 'key' }, cut(n.key, 21)),
    s('text', { x: 12, y: 37, class: 'meta' }, `${n.state} · #${n.id}${n.attempts > 1 ? ` · ${n.attempts} tries` : ''}`));
    svg.append(g);
  }
  return svg;
}

function workflowPage([id]) {
  return detailPage('/workflows', 'Workflows', id, `/api/workflows/${id}`, (data) => {
    const w = data.workflow;
    const cancel = w.state === 'running' || w.state === 'failing'
      ? button('Cancel workflow', () => {
        if (window.confirm(`Cancel every unfinished job of workflow #${w.id}?`)) {
          act(`/api/workflows/${w.id}/cancel`, null, (d) => `cancelled ${d.cancelled} jobs`);
        }
      }, 'danger') : null;
    const legend = h('p', { class: 'legend' }, STATES.map((x) => [state(x), ' ']));
    return [
      h('h1', {}, `Workflow #${w.id} ${w.name || ''} `, state(w.state), h('span', { class: 'actions' }, cancel)),
      h('p', {}, progress(w.done, w.jobs), ` · started ${ago(w.started_at)}`, w.finished_at ? ` · finished ${ago(w.finished_at)}` : '',
        w.fail_fast ? ' · fail fast' : ''),
      legend,
      h('div', { class: 'dag-box' }, dag(data.graph)),
      h('h2', {}, 'Jobs'),
      table(['key', 'id', 'queue', 'state', 'attempts', 'waiting on', 'error'], data.jobs.map((j) => h('tr', {},
        h('td', {}, j.key), h('td', { class: 'num' }, link(`/jobs/${j.id}`, `#${j.id}`)), h('td', {}, j.queue),
        h('td', {}, state(j.state)), h('td', { class: 'num' }, `${j.attempts}/${j.max_attempts}`),
        h('td', { class: 'num' }, j.waiting_on || ''), h('td', { class: 'error' }, cut(j.error, 80)))))];
  });
}

// ---------------------------------------------------------------- workers

function load(running, concurrency) {
  if (!concurrency) return h('span', {}, `${running} running`);
  return h('span', { class: 'progress load', title: `${running} of ${concurrency} slots busy` },
    bar(running / concurrency, 80), ` ${running}/${concurrency}`);
}

function workersPage() {
  const list = h('div', {}); const res = h('div', {});
  main.replaceChildren(h('h1', {}, 'Workers'), list, h('h2', {}, 'Resources used, per queue'), res);
  const refresh = async () => {
    const data = await api('/api/workers');
    serverSkew = data.now - Date.now() / 1000;
    const join = (v) => (Array.isArray(v) ? v.join(', ') : v || '');
    list.replaceChildren(data.workers.length ? table(
      ['name', 'state', 'host', 'pid', 'queues', 'capabilities', 'last heartbeat', 'load', 'done', 'failed', 'started'],
      data.workers.map((w) => h('tr', { 'data-worker': w.name },
        h('td', {}, w.name), h('td', {}, h('span', { class: `state worker-${w.state}` }, w.state)),
        h('td', {}, w.host || ''), h('td', { class: 'num' }, w.pid || ''),
        h('td', {}, join(w.queues) || 'every queue'), h('td', {}, join(w.capabilities)),
        h('td', {}, when(w.heartbeat_at)), h('td', {}, load(w.running || 0, w.concurrency)),
        h('td', { class: 'num' }, num(w.jobs_done)), h('td', { class: 'num' }, num(w.jobs_failed)),
        h('td', {}, when(w.started_at)))), 'workers')
      : empty('No workers seen in the last day (orq worker).'));
    const mb = (kb) => (kb ? `${(kb / 1024).toFixed(1)} MB` : '–');
    res.replaceChildren(data.resources.length ? table(
      ['queue', 'runs', 'done', 'wall avg', 'wall max', 'wall total', 'cpu avg', 'cpu total', 'peak memory'],
      data.resources.map((r) => h('tr', {}, h('td', {}, r.queue),
        h('td', { class: 'num' }, num(r.runs)), h('td', { class: 'num' }, num(r.done)),
        [r.wall_avg, r.wall_max, r.wall_total, r.cpu_avg, r.cpu_total].map((x) => h('td', { class: 'num' }, duration(x))),
        h('td', { class: 'num' }, mb(r.max_rss_kb)))))
      : empty('No runs recorded yet (orq worker records each run).'));
  };
  return { refresh };
}

// ---------------------------------------------------------------- routing

const routes = [
  [/^\/$/, 'overview', overviewPage],
  [/^\/jobs$/, 'jobs', jobsPage],
  [/^\/jobs\/(\d+)$/, 'jobs', jobPage],
  [/^\/dead$/, 'dead', deadPage],
  [/^\/workflows$/, 'workflows', workflowsPage],
  [/^\/workflows\/(\d+)$/, 'workflows', workflowPage],
  [/^\/workers$/, 'workers', workersPage],
];

async function show() {
  if (page && page.leave) page.leave();
  page = null;
  const path = location.pathname;
  for (const [re, nav, make] of routes) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('nav a[data-nav]')) a.classList.toggle('on', a.dataset.nav === nav);
    const p = make(m.slice(1), new URLSearchParams(location.search));
    page = p;
    try { await p.refresh(); } catch (e) { toast(e.message, true); }
    return;
  }
  main.replaceChildren(h('h1', {}, 'Not found'));
}

function go(url) {
  history.pushState(null, '', url);
  window.scrollTo(0, 0);
  show();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href]');
  if (!a || a.origin !== location.origin || a.target || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  go(a.pathname + a.search);
});
window.addEventListener('popstate', show);

// Pages other than the overview re-read their data when the database
// changed, at most once a second; the overview draws the snapshot itself.
let pending = null;
function changed() {
  if (!page) return;
  if (page.onSnapshot) { page.onSnapshot(); return; }
  if (pending) return;
  pending = setTimeout(async () => {
    pending = null;
    if (page) { try { await page.refresh(); } catch (e) { /* shown on the next change */ } }
  }, 1000);
}

function live(on, text) {
  const el = document.getElementById('live');
  el.className = `live ${on ? 'on' : 'off'}`;
  el.textContent = text;
}

function connect() {
  const events = new EventSource('/events/stream');
  events.addEventListener('snapshot', (e) => {
    const first = snapshot === null;
    snapshot = JSON.parse(e.data);
    serverSkew = snapshot.at - Date.now() / 1000;
    live(true, 'live');
    // Pages drawn before the first snapshot have empty queue pickers
    // (they list the snapshot's queues): draw them again, once.
    if (first) show(); else changed();
  });
  events.addEventListener('open', () => live(true, 'live'));
  // EventSource reconnects by itself (after the server's retry: 2 s).
  events.addEventListener('error', () => live(false, 'reconnecting…'));
}

if (READ_ONLY) document.querySelector('header .db').after(h('span', { class: 'tag' }, 'read-only'));
show();
connect();
