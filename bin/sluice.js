#!/usr/bin/env node
// Entry point of the `sluice` command: runs the compiled CLI (npm ci / npm run build produce dist/).
'use strict';
let cli;
try {
  cli = require('../dist/cli/main.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && /dist[\\/]cli[\\/]main/.test(err.message)) {
    process.stderr.write("sluice: the command is not built yet; run 'npm run build' in the Sluice folder first\n");
    process.exit(1);
  }
  throw err;
}
cli.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
