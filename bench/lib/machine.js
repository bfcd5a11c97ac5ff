/**
 * Where a run happened: Node, CPU, memory, commit and load average go into the JSON and the
 * report's header, because on a shared machine the figures mean little without them.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fmt } from './format.js';

/** Node, V8, OS and hardware of this machine. */
export function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model?.replace(/\s+/g, ' ').trim() ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

/** Short HEAD of the repository at `root`, "+dirty" when src/ has uncommitted changes (what the figures measure). */
export function gitCommit(root) {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

/** The report's first lines: date, machine and commit, and the load average that tells whether the cores were shared. */
export function header(meta) {
  return [
    `spydht benchmarks — ${meta.date}${meta.quick ? ' (--quick)' : ''}`,
    `Node ${meta.node}, ${meta.cpus}× ${meta.cpuModel}, ${meta.platform}, ${meta.memGiB} GiB, commit ${meta.commit}`,
    `Load average (1 min) at start ${fmt(meta.loadAvgStart[0], 2)}, at end ${fmt(meta.loadAvgEnd?.[0], 2)}: anything above ~0.5 means other processes shared the ${meta.cpus} cores.`,
  ];
}
