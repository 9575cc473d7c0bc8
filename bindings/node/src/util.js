'use strict';

/** SQL NULL for "absent": orq treats a NULL argument as an omitted one. */
function toJson(value) {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`orq: cannot encode ${typeof value} as JSON`);
  return text;
}

/** Payloads are required by queue_enqueue: undefined becomes JSON null. */
function payloadJson(payload) {
  return toJson(payload === undefined ? null : payload);
}

/** Options are a JSON object or absent; an empty object is absent too. */
function optionsJson(options) {
  if (options == null) return null;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('orq: options must be an object');
  }
  const defined = Object.entries(options).filter(([, v]) => v !== undefined);
  return defined.length ? JSON.stringify(Object.fromEntries(defined)) : null;
}

/** A queue list as queue_claim/queue_wait take it: a name, a JSON array, or NULL for all. */
function queuesArg(queues) {
  if (queues == null) return null;
  if (typeof queues === 'string') return queues;
  if (Array.isArray(queues)) return JSON.stringify(queues);
  throw new TypeError('orq: queues must be a queue name, an array of names, or null');
}

/** The text stored as a job's error: what a person reading queue_jobs needs. */
function errorText(err) {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

function parseJson(text) {
  return text == null ? null : JSON.parse(text);
}

/** Runs a sync or async handler and reports how it ended, never throwing. */
async function settle(handler, ...args) {
  try {
    return { ok: true, result: await handler(...args) };
  } catch (err) {
    // Job.sleep, waitFor and gather end a run this way (job.js): not a failure.
    if (err?.name === 'Suspended') return { ok: false, suspended: true };
    if (err?.name === 'LeaseLost') return { ok: false, lost: true };
    return { ok: false, error: errorText(err) };
  }
}

/** Lets the loop hand control to handlers that are ready to run. */
function immediate() {
  return new Promise((resolve) => setImmediate(resolve));
}

module.exports = { toJson, payloadJson, optionsJson, queuesArg, errorText, parseJson, settle, immediate };
