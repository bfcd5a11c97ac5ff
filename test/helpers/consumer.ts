/**
 * A new user's project: `npm init -y`, then `npm install` of the packed library, exactly what a
 * user gets from the registry. Tests of the published package (README examples, declarations,
 * optional dependencies, source maps) run in it, never inside this repository.
 *
 * It needs no network: the library is `npm pack`ed from this build, and its dependencies are packed
 * from this repository's node_modules (the versions `npm ci` installed), then everything is
 * installed `--offline` from those tarballs. It is made once per build and reused by every test
 * file of a run (a folder in the OS temp dir named after this checkout and what was packed); this
 * checkout's older ones are removed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, assertBuilt } from './build.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** Folders of this checkout only: another checkout's tests may be using theirs right now. */
const PREFIX = `spydht-consumer-${createHash('sha256').update(ROOT).digest('hex').slice(0, 8)}-`;

export interface ConsumerProject {
  /** The project made by `npm init -y` with only `spydht` installed. */
  dir: string;
  /** The packed library. */
  tarball: string;
  /** Tarballs of its runtime dependencies (and theirs), packed from this repository's node_modules. */
  dependencyTarballs: string[];
}

function npm(args: string[], cwd: string): string {
  try {
    return execFileSync(NPM, [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** Every file under dir (relative paths), for the build's fingerprint. */
function tree(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tree(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

/** Changes whenever anything that goes into the tarball changes. */
function fingerprint(): string {
  const hash = createHash('sha256');
  for (const file of ['package.json', 'README.md', 'PROTOCOL.md']) hash.update(readFileSync(join(ROOT, file)));
  for (const rel of tree(join(ROOT, 'dist')).sort()) {
    const s = statSync(join(ROOT, 'dist', rel));
    hash.update(`${rel}:${s.size}:${s.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** Runtime dependencies of a package folder, recursively, as folders in ROOT/node_modules. */
function runtimeDependencies(pkgDir: string, seen = new Map<string, string>()): Map<string, string> {
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    if (seen.has(name)) continue;
    const dir = join(ROOT, 'node_modules', name);
    if (!existsSync(dir)) throw new Error(`${name} is not in node_modules: run npm ci`);
    seen.set(name, dir);
    runtimeDependencies(dir, seen);
  }
  return seen;
}

function packInto(dest: string, what: string): string {
  const out = npm(['pack', what, '--ignore-scripts', '--pack-destination', dest, '--json'], ROOT);
  const [info] = JSON.parse(out) as { filename: string }[];
  return join(dest, info!.filename);
}

function build(dir: string): ConsumerProject {
  const packs = join(dir, 'packs');
  mkdirSync(packs, { recursive: true });
  const tarball = packInto(packs, '.');
  const dependencyTarballs = [...runtimeDependencies(ROOT).values()].map((d) => packInto(packs, d));
  const app = join(dir, 'app');
  mkdirSync(app);
  npm(['init', '-y'], app);
  // The dependencies' tarballs are listed too, so --offline finds every package without a registry.
  npm(['install', '--offline', tarball, ...dependencyTarballs], app);
  const project = { dir: app, tarball, dependencyTarballs };
  writeFileSync(join(dir, 'project.json'), JSON.stringify(project));
  return project;
}

/** The consumer project for the current build (made on first use in a run, then reused). */
export function consumerProject(): ConsumerProject {
  assertBuilt();
  const dir = join(tmpdir(), `${PREFIX}${fingerprint()}`);
  const ready = join(dir, 'project.json');
  if (existsSync(ready)) return JSON.parse(readFileSync(ready, 'utf8')) as ConsumerProject;
  for (const old of readdirSync(tmpdir()).filter((d) => d.startsWith(PREFIX))) rmSync(join(tmpdir(), old), { recursive: true, force: true });
  const staging = `${dir}.${process.pid}`;
  build(staging);
  // Paths inside were written for the staging folder: rewrite them for the final one.
  const project = JSON.parse(readFileSync(join(staging, 'project.json'), 'utf8').replaceAll(staging, dir)) as ConsumerProject;
  writeFileSync(join(staging, 'project.json'), JSON.stringify(project));
  renameSync(staging, dir);
  return project;
}

/** Extra packages from this repository's node_modules installed into a copy-free sibling project (e.g. @types/node for a type check). */
export function consumerProjectWith(name: string, packages: string[]): string {
  const base = consumerProject();
  const dir = join(base.dir, '..', name);
  if (existsSync(join(dir, 'node_modules', '.ready'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  npm(['init', '-y'], dir);
  const extra = packages.flatMap((p) => {
    const deps = runtimeDependencies(join(ROOT, 'node_modules', p));
    return [join(ROOT, 'node_modules', p), ...deps.values()].map((d) => packInto(join(base.dir, '..', 'packs'), d));
  });
  npm(['install', '--offline', base.tarball, ...base.dependencyTarballs, ...extra], dir);
  writeFileSync(join(dir, 'node_modules', '.ready'), '');
  return dir;
}
