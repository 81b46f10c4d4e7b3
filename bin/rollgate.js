#!/usr/bin/env node
// Runs the TypeScript sources through tsx so that `npx rollgate` works right after `npm ci`.
require('tsx/cjs');
require('../src/cli/main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
