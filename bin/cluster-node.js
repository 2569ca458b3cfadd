#!/usr/bin/env node
'use strict';
// Starts one cluster-node: `cluster-node [config-file] [--name value ...]` (see README).
require('../dist/cluster-node/src/main.js')
  .main(process.argv.slice(2))
  .catch((e) => {
    process.stderr.write(`Fatal: ${e && e.message ? e.message : e}\n`);
    process.exit(1);
  });
