#!/usr/bin/env node
// Starts the spydht signaling / bootstrap server from the built package (run `npm run build` first).
// Same flags as `spydht signal`: node signaling-server/server.js --port 8080 [--host IP] [--udp-port U] …
// The implementation is TypeScript in src/node/signaling/ (compiled to dist/node/signaling/): see README.md.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/node/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('signaling-server: dist/ is missing, run `npm run build` first\n');
  process.exit(1);
}
process.argv.splice(2, 0, 'signal');
await import(cli.href);
