'use strict';

const fs = require('node:fs');
const { PACKAGED, REPO_BUILD } = require('./paths');

/**
 * The extension to load: an explicit ORQ_LOADABLE_PATH wins (a system build,
 * a debug build), then the copy `npm install` made, then a build in the
 * repository checkout (handy while developing orq itself).
 */
function getLoadablePath() {
  if (process.env.ORQ_LOADABLE_PATH) return process.env.ORQ_LOADABLE_PATH;
  for (const candidate of [PACKAGED, REPO_BUILD]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(
    `orq: the loadable extension was not found (looked at ${PACKAGED} and ${REPO_BUILD}). ` +
      'Build it with `cargo build --release` in the orq repository (or reinstall the package, ' +
      'which runs `node scripts/build.js`), or set ORQ_LOADABLE_PATH to liborq.so.'
  );
}

/** Loads orq into a better-sqlite3 Database; returns the database for chaining. */
function load(db) {
  db.loadExtension(getLoadablePath(), 'sqlite3_orq_init');
  return db;
}

/** Loading twice would give the connection a second orq session; skip it. */
function isLoaded(db) {
  try {
    db.prepare('SELECT orq_version()').pluck().get();
    return true;
  } catch {
    return false;
  }
}

module.exports = { getLoadablePath, load, isLoaded };
