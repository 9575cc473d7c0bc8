'use strict';
/**
 * orq for Node.js: a job queue inside SQLite, through better-sqlite3.
 * The queue logic is the orq loadable extension; this package only names its
 * SQL functions and adds a worker loop around them.
 */

const { getLoadablePath, load } = require('./src/load');
const { Queue } = require('./src/queue');
const { Job, Suspended, LeaseLost } = require('./src/job');
const { Worker } = require('./src/worker');
const errors = require('./src/errors');

const orq = {
  getLoadablePath,
  load,
  Queue,
  Job,
  Worker,
  Suspended,
  LeaseLost,
  OrqError: errors.OrqError,
  InvalidArgument: errors.InvalidArgument,
  NotFound: errors.NotFound,
  SchemaMismatch: errors.SchemaMismatch,
  Conflict: errors.Conflict,
  DatabaseBusy: errors.DatabaseBusy,
  ReadOnly: errors.ReadOnly,
  DatabaseFull: errors.DatabaseFull,
  Corrupt: errors.Corrupt,
  CannotOpen: errors.CannotOpen,
  DiskError: errors.DiskError,
};
// So that `require('orq').default` matches `import orq from 'orq'` (and the .d.ts).
orq.default = orq;
module.exports = orq;
