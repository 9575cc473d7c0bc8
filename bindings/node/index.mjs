// ESM entry point: the CommonJS module is the implementation, so both
// `import orq from 'orq'` and `require('orq')` share one copy of it.
import orq from './index.js';

export const {
  getLoadablePath,
  load,
  Queue,
  Job,
  Worker,
  Suspended,
  LeaseLost,
  OrqError,
  InvalidArgument,
  NotFound,
  SchemaMismatch,
  Conflict,
  DatabaseBusy,
  ReadOnly,
  DatabaseFull,
  Corrupt,
  CannotOpen,
  DiskError,
} = orq;
export default orq;
