#!/usr/bin/env node
import { drainStdout } from './command.js';
import { main } from './main.js';

// exit explicitly (nothing may keep a finished command alive), but only once stdout is written whole: a pipe to a
// slow reader (| jq) would otherwise lose everything past its 64 KiB buffer
void main(process.argv.slice(2)).then(async (code) => {
  process.exitCode = code;
  await drainStdout();
  process.exit(code);
});
