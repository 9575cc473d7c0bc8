'use strict';
/**
 * orq's errors, by kind (docs/errors.md). Every SQLite error of a Queue call
 * is thrown as one of these, chosen by better-sqlite3's `code` (SQLite's
 * result code, by name) and, where orq's kinds share SQLITE_ERROR, the
 * token after the function's name (`queue_cancel: [not_found] no job with
 * id 7`), never by the rest of the text. `cause` is better-sqlite3's error;
 * `code` its code ('SQLITE_BUSY_SNAPSHOT', ...).
 */

class OrqError extends Error {
  constructor(message, code, cause) {
    super(message, { cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input (SQLITE_ERROR without a token): nothing was changed. */
class InvalidArgument extends OrqError {}
/** No job (or workflow) with that id (SQLITE_ERROR, `[not_found]`). */
class NotFound extends OrqError {}
/** An orq schema this orq cannot use, e.g. from a newer orq (`[schema]`). */
class SchemaMismatch extends OrqError {}
/** A constraint refused the change, e.g. another live job holds the key (SQLITE_CONSTRAINT). */
class Conflict extends OrqError {}
/** Another connection held the lock too long (SQLITE_BUSY, SQLITE_LOCKED). */
class DatabaseBusy extends OrqError {}
/** The database cannot be written (SQLITE_READONLY, SQLITE_PERM). */
class ReadOnly extends OrqError {}
/** The disk, or the database's max_page_count, is full (SQLITE_FULL). */
class DatabaseFull extends OrqError {}
/** The database is damaged or is no database (SQLITE_CORRUPT, SQLITE_NOTADB). */
class Corrupt extends OrqError {}
/** The database file cannot be opened (SQLITE_CANTOPEN). */
class CannotOpen extends OrqError {}
/** The operating system failed a read, write or lock (SQLITE_IOERR, SQLITE_PROTOCOL). */
class DiskError extends OrqError {}

/** By SQLite's primary result code. */
const BY_CODE = {
  SQLITE_CONSTRAINT: Conflict,
  SQLITE_BUSY: DatabaseBusy,
  SQLITE_LOCKED: DatabaseBusy,
  SQLITE_READONLY: ReadOnly,
  SQLITE_PERM: ReadOnly,
  SQLITE_FULL: DatabaseFull,
  SQLITE_CORRUPT: Corrupt,
  SQLITE_NOTADB: Corrupt,
  SQLITE_CANTOPEN: CannotOpen,
  SQLITE_IOERR: DiskError,
  SQLITE_PROTOCOL: DiskError,
};
/** Within SQLITE_ERROR, by the token after an orq function's name. */
const BY_TOKEN = { not_found: NotFound, schema: SchemaMismatch };
const TOKEN = /^[a-z_]+: \[([a-z_]+)\]/;

/** The class for an error with SQLite result code `code` (by name, extended or primary) and `message`. */
function kindOf(code, message) {
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return OrqError;
  const primary = code.split('_').slice(0, 2).join('_');
  if (primary === 'SQLITE_ERROR') return BY_TOKEN[TOKEN.exec(message)?.[1]] ?? InvalidArgument;
  return BY_CODE[primary] ?? OrqError;
}

/** `err` as orq's error when SQLite raised it (better-sqlite3's SqliteError); other errors as they are. */
function fromDriver(err) {
  if (err?.name !== 'SqliteError') return err;
  return new (kindOf(err.code, err.message))(err.message, err.code, err);
}

/** Runs `fn`, throwing SQLite's errors as orq's. */
function orqErrors(fn) {
  try {
    return fn();
  } catch (err) {
    throw fromDriver(err);
  }
}

module.exports = {
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
  kindOf,
  fromDriver,
  orqErrors,
};
