#!/usr/bin/env node
'use strict';
/**
 * npm's install step: puts the orq extension at lib/ so the package works
 * without a Rust toolchain at run time. Building needs the repository around
 * the package (npm install ./bindings/node), since the Rust sources live there.
 */

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { PACKAGED, REPO_DIR, REPO_BUILD, isOrqRepo } = require('../src/paths');

function main() {
  if (process.env.ORQ_LOADABLE_PATH) {
    log(`ORQ_LOADABLE_PATH is set (${process.env.ORQ_LOADABLE_PATH}); not building`);
    return;
  }
  // Inside the repository, the copy follows the sources (cargo's build is
  // incremental, a second when nothing changed): a copy kept from an
  // earlier build would load an older extension than the checkout's.
  if (!isOrqRepo() && fs.existsSync(PACKAGED)) {
    log(`${path.relative(process.cwd(), PACKAGED) || PACKAGED} exists; not building`);
    return;
  }
  if (!isOrqRepo()) {
    fail(
      `cannot build the orq extension: ${REPO_DIR} is not the orq repository.\n` +
        'Install the package from a checkout (npm install ./bindings/node), or build\n' +
        'liborq yourself (cargo build --release in the repository) and set ORQ_LOADABLE_PATH to it.'
    );
  }
  cargoBuild();
  fs.mkdirSync(path.dirname(PACKAGED), { recursive: true });
  // Copy through a temporary name: a half-copied library must never look installed.
  const partial = `${PACKAGED}.partial`;
  fs.copyFileSync(REPO_BUILD, partial);
  fs.renameSync(partial, PACKAGED);
  log(`built ${PACKAGED}`);
}

function cargoBuild() {
  const cargo = process.env.CARGO || 'cargo';
  log(`running ${cargo} build --release in ${REPO_DIR}`);
  const run = spawnSync(cargo, ['build', '--release'], { cwd: REPO_DIR, stdio: 'inherit' });
  if (run.error && run.error.code === 'ENOENT') {
    fail(
      `cannot build the orq extension: '${cargo}' was not found.\n` +
        'Install Rust (https://rustup.rs) so that cargo is on PATH, or build liborq\n' +
        'elsewhere and set ORQ_LOADABLE_PATH to the built library.'
    );
  }
  if (run.error) fail(`cannot run ${cargo}: ${run.error.message}`);
  if (run.status !== 0) fail(`${cargo} build --release failed (exit status ${run.status ?? run.signal})`);
  if (!fs.existsSync(REPO_BUILD)) fail(`${cargo} build --release succeeded but ${REPO_BUILD} is missing`);
}

function log(message) {
  console.error(`orq: ${message}`);
}

function fail(message) {
  console.error(`orq: ${message}`);
  process.exit(1);
}

main();
