#!/usr/bin/env node
/**
 * `npm test` runs browser tests in real Chromium. Fail fast, saying exactly how to get it, rather
 * than failing deep inside a test.
 */
import { accessSync, constants } from 'node:fs';

const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
try {
  accessSync(path, constants.X_OK);
} catch {
  process.stderr.write(
    `\nChromium is needed for the browser tests and was not found at ${path}.\n` +
      `Install it with:  sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium\n` +
      `or point CHROMIUM_PATH at a Chromium/Chrome binary, then run npm test again.\n\n`,
  );
  process.exit(1);
}
