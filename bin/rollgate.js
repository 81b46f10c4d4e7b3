#!/usr/bin/env node
// Runs the TypeScript sources through tsx so that `npx rollgate` works right after `npm ci`.
// A reader that stops early (`rollgate decide | head`) closes the pipe: the rest of the output is
// dropped quietly, and the exit status stays the command's.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
  });
require('tsx/cjs');
require('../src/cli/main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
