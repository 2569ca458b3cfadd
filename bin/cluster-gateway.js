#!/usr/bin/env node
'use strict';
// Starts one gateway: `cluster-gateway --port 8080 --seeds 127.0.0.1:7000 --token SECRET` (see README).
require('../dist/gateway/src/main.js')
  .main(process.argv.slice(2))
  .catch((e) => {
    process.stderr.write(`Fatal: ${e && e.message ? e.message : e}\n`);
    process.exit(1);
  });
