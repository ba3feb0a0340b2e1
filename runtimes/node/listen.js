// Opens loopback listeners the way Node.js's documentation shows (`net.createServer().listen`,
// no backlog: lib/net.js passes 511), and the two ways of asking for -1, prints the listener
// protocol of runtimes/README.md and never accepts: once every listener is up, the main thread
// blocks (Atomics.wait), so libuv's event loop never runs the accept that Node would otherwise
// do by itself.
'use strict';
const fs = require('fs');
const net = require('net');
const { Worker } = require('worker_threads');

const lifetime = (Number(process.argv[2]) || 120) * 1000;
const host = '127.0.0.1';
const variants = [
  // The documented call with no backlog.
  ['default', (server, done) => server.listen(0, host, done)],
  // A positional backlog goes through toNumber(): -1 is not >= 0, so 511 again.
  ['positional-minus-1', (server, done) => server.listen(0, host, -1, done)],
  // A truthy options.backlog is passed to libuv as it is.
  ['options-minus-1', (server, done) => server.listen({ port: 0, host, backlog: -1 }, done)],
];

const lines = [`version node ${process.version} ${process.platform}/${process.arch}`];
const servers = [];
let left = variants.length;
function settled() {
  left -= 1;
  if (left > 0) return;
  lines.push('ready');
  fs.writeSync(1, lines.join('\n') + '\n');
  // A worker reads standard input to its end and wakes the main thread.
  const flag = new Int32Array(new SharedArrayBuffer(4));
  new Worker(
    `const fs = require('fs'); const { workerData } = require('worker_threads');
     const buffer = Buffer.alloc(4096);
     for (;;) {
       let n;
       try { n = fs.readSync(0, buffer, 0, buffer.length, null); }
       catch (e) { if (e.code === 'EAGAIN') { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); continue; } break; }
       if (n === 0) break;
     }
     Atomics.store(workerData, 0, 1); Atomics.notify(workerData, 0);`,
    { eval: true, workerData: flag },
  );
  Atomics.wait(flag, 0, 0, lifetime);
  for (const server of servers) server.close();
  process.exit(0);
}
for (const [name, open] of variants) {
  const server = net.createServer();
  servers.push(server);
  server.on('error', (error) => {
    lines.push(`unavailable ${name} ${error.code || error.message}`);
    settled();
  });
  open(server, () => {
    lines.push(`listen ${name} ${server.address().port}`);
    settled();
  });
}
