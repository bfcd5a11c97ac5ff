/**
 * Where the CLI keeps the user's own identity, so `put` and then `delete` work with no flags: the
 * user's config directory, as each platform names it.
 *   Linux and others: $XDG_CONFIG_HOME/spydht/identity.json, else ~/.config/spydht/identity.json
 *   macOS: the same (~/.config, as command-line tools there commonly use)
 *   Windows: %APPDATA%\spydht\identity.json
 */
import { homedir } from 'node:os';
import { join, win32 } from 'node:path';

export interface ConfigEnvironment {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  home: string;
}

const current = (): ConfigEnvironment => ({ env: process.env, platform: process.platform, home: homedir() });

/** The folder spydht's files live in. */
export function configDir(where: ConfigEnvironment = current()): string {
  const { env, platform, home } = where;
  if (platform === 'win32') return win32.join(env.APPDATA || win32.join(home, 'AppData', 'Roaming'), 'spydht');
  // XDG: a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(home, '.config'), 'spydht');
}

/** The identity `put` creates and `delete` uses when no --identity is given. */
export function defaultIdentityPath(where: ConfigEnvironment = current()): string {
  return (where.platform === 'win32' ? win32.join : join)(configDir(where), 'identity.json');
}

/** "~/…" for a path under the home folder: shorter to read in messages. */
export function tildify(path: string, home = homedir()): string {
  return home && path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}
