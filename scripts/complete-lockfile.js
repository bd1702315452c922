#!/usr/bin/env node
// Our npm registry serves only the linux-x64 builds of packages that ship one optional package per
// platform (@duckdb/node-bindings-*), so `npm install` leaves the other platforms out of
// package-lock.json, and `npm ci` then refuses the lock file as out of sync. This adds the missing
// entries (marked optional, with their os/cpu, so npm skips them on this platform) without touching
// anything else. Run it after every `npm install` that rewrites the lock file; a test checks it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const packages = lock.packages;
const PLATFORM = /-(darwin|linux|win32|freebsd)-(x64|arm64|arm|ia32)(-(musl|gnu))?$/;

let added = 0;
for (const [key, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const target = `node_modules/${name}`;
    if (packages[target] || packages[`${key}/node_modules/${name}`]) continue;
    const m = PLATFORM.exec(name);
    if (!m) continue; // only platform builds can be safely stubbed
    packages[target] = {
      version,
      cpu: [m[2]],
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [m[1]],
      ...(m[1] === 'linux' ? { libc: [m[4] === 'musl' ? 'musl' : 'glibc'] } : {}),
    };
    added++;
  }
}
if (added) {
  fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
}
process.stdout.write(`complete-lockfile: ${added} platform entr${added === 1 ? 'y' : 'ies'} added\n`);
