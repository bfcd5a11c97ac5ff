/** Types of scripts/chromium.js, for the TypeScript tests and playwright.config.ts that import it. */

/** Every look at the machine that scripts/chromium.js takes. */
export interface ChromiumProbes {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  home: string;
  isRoot(): boolean;
  isExecutable(path: string): boolean;
  listDir(path: string): string[];
  readFile(path: string): string | undefined;
  /** Runs argv with the terminal attached; true when it exits 0. */
  run(argv: string[], timeoutMs?: number): Promise<boolean>;
}

export type FindResult = { path: string; source: string; error?: undefined } | { error: string; path?: undefined };

export interface InstallPlan {
  label: string;
  steps: string[][];
}

export const SYSTEM_NAMES: string[];
export const PLAYWRIGHT_INSTALL: InstallPlan;
export const APT_INSTALL: InstallPlan;
export function systemProbes(): ChromiumProbes;
export function playwrightCache(probes: ChromiumProbes): string;
export function findChromium(probes?: ChromiumProbes): FindResult | undefined;
export function isDebianLike(probes: ChromiumProbes): boolean;
export function installPlans(probes: ChromiumProbes): InstallPlan[];
export function manualInstructions(probes: ChromiumProbes): string;
export class ChromiumUnavailable extends Error {}
export function ensureChromium(
  probes?: ChromiumProbes,
  log?: (line: string) => void,
): Promise<{ path: string; source: string; installedBy?: string }>;
export function chromiumPath(probes?: ChromiumProbes): string;
