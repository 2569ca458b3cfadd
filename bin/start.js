#!/usr/bin/env node
'use strict';
// `npm start`: run a local cluster-node on 127.0.0.1:7000 with its data under .cluster-data/.
// (Multi-node cluster and gateway start-up arrive with the cluster and gateway work.)
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const port = Number(process.env.PORT || 7000);
const dataDir = path.resolve(process.env.DATA_DIR || path.join(root, '.cluster-data'));
const dir = path.join(dataDir, String(port));
fs.mkdirSync(dir, { recursive: true });

const child = spawn(process.execPath, [path.join(__dirname, 'cluster-node.js'), '--port', String(port), '--bind', '127.0.0.1', '--dir', dir], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
console.log(`cluster-node starting on 127.0.0.1:${port} (data: ${dir})`);
console.log(`connect with:  redis-cli -p ${port}     or  new Redis(${port}) in ioredis`);
console.log('Ctrl-C stops it.');
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
