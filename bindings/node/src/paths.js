'use strict';
/** Where the orq loadable extension is, shared by index.js and scripts/build.js. */

const fs = require('node:fs');
const path = require('node:path');

const PACKAGE_DIR = path.join(__dirname, '..');
/** The repository checkout this package sits in (bindings/node → ../..). */
const REPO_DIR = path.join(PACKAGE_DIR, '..', '..');

/** cargo names the cdylib after the platform's conventions. */
function libraryFile(platform = process.platform) {
  if (platform === 'darwin') return 'liborq.dylib';
  if (platform === 'win32') return 'orq.dll';
  return 'liborq.so';
}

const PACKAGED = path.join(PACKAGE_DIR, 'lib', libraryFile());
const REPO_BUILD = path.join(REPO_DIR, 'target', 'release', libraryFile());

/** True when REPO_DIR is orq's cargo workspace (and not some unrelated ../..). */
function isOrqRepo(dir = REPO_DIR) {
  const manifest = path.join(dir, 'Cargo.toml');
  if (!fs.existsSync(manifest) || !fs.existsSync(path.join(dir, 'ext', 'Cargo.toml'))) return false;
  const text = fs.readFileSync(manifest, 'utf8');
  return /^\s*members\s*=\s*\[[^\]]*"ext"/m.test(text);
}

module.exports = { PACKAGE_DIR, REPO_DIR, PACKAGED, REPO_BUILD, libraryFile, isOrqRepo };
