#!/usr/bin/env node
import { main } from './main.js';

// exit explicitly: stdout and stderr are written synchronously, and nothing may keep a finished command alive
main(process.argv.slice(2)).then((code) => process.exit(code));
