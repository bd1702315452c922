#!/usr/bin/env node
// Entry point of the `sluice` command: runs the compiled CLI (npm ci / npm run build produce dist/).
// `sluice dev …` is the local host's own command line (dev/cli.ts): the CLI does not import the local
// host, so the choice between the two is made here.
'use strict';
const argv = process.argv.slice(2);
const dev = argv[0] === 'dev';
let command;
try {
  command = require(dev ? '../dist/dev/cli.js' : '../dist/cli/main.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && /dist[\\/](cli[\\/]main|dev[\\/]cli)/.test(err.message)) {
    process.stderr.write("sluice: the command is not built yet; run 'npm run build' in the Sluice folder first\n");
    process.exit(1);
  }
  throw err;
}
command.main(dev ? argv.slice(1) : argv).then((code) => {
  process.exitCode = code;
});
