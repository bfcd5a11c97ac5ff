/** The README's code examples, as the tests that run them read them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './build.js';

export interface ReadmeExample {
  /** The file name the block's first line gives ("// example.mjs …"). */
  file: string;
  code: string;
}

/** Every ```js block of the README; throws if one does not name its file on its first line. */
export function readmeExamples(): ReadmeExample[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => {
    const code = m[1]!;
    const file = /^\/\/ ([\w.-]+\.m?js)\b/.exec(code)?.[1];
    if (!file) throw new Error(`a README js block does not name its file on its first line ("// example.mjs …"):\n${code.slice(0, 200)}`);
    return { file, code };
  });
}
