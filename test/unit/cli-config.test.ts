/**
 * Where the CLI keeps your identity on each platform, and when it prints a progress line: pure
 * decisions, checked for every platform on this one. (The CLI itself is run in test/udp/cli.test.ts.)
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { configDir, defaultIdentityPath, tildify } from '../../src/node/cli/config-dir.js';
import { withProgress } from '../../src/node/cli/progress.js';

describe('the default identity path', () => {
  it('Linux and macOS: $XDG_CONFIG_HOME/spydht, else ~/.config/spydht', () => {
    expect(defaultIdentityPath({ env: {}, platform: 'linux', home: '/home/ann' })).toBe('/home/ann/.config/spydht/identity.json');
    expect(defaultIdentityPath({ env: { XDG_CONFIG_HOME: '/xdg' }, platform: 'linux', home: '/home/ann' })).toBe('/xdg/spydht/identity.json');
    expect(defaultIdentityPath({ env: {}, platform: 'darwin', home: '/Users/ann' })).toBe('/Users/ann/.config/spydht/identity.json');
    // The XDG spec says a relative path is invalid and must be ignored.
    expect(configDir({ env: { XDG_CONFIG_HOME: 'relative/dir' }, platform: 'linux', home: '/home/ann' })).toBe('/home/ann/.config/spydht');
  });

  it('Windows: %APPDATA%\\spydht', () => {
    expect(defaultIdentityPath({ env: { APPDATA: 'C:\\Users\\ann\\AppData\\Roaming' }, platform: 'win32', home: 'C:\\Users\\ann' })).toBe(
      'C:\\Users\\ann\\AppData\\Roaming\\spydht\\identity.json',
    );
    expect(defaultIdentityPath({ env: {}, platform: 'win32', home: 'C:\\Users\\ann' })).toBe('C:\\Users\\ann\\AppData\\Roaming\\spydht\\identity.json');
  });

  it('paths under the home folder are shown with ~', () => {
    expect(tildify('/home/ann/.config/spydht/identity.json', '/home/ann')).toBe('~/.config/spydht/identity.json');
    expect(tildify('/tmp/x/identity.json', '/home/ann')).toBe('/tmp/x/identity.json');
    expect(tildify('/home/annabel/x', '/home/ann')).toBe('/home/annabel/x');
  });
});

describe('progress lines', () => {
  afterEach(() => void vi.useRealTimers());

  it('a step slower than the threshold prints one line; a fast one prints nothing', async () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    let release!: () => void;
    const slow = withProgress('joining through 1.2.3.4:5', new Promise<void>((r) => (release = r)), (l) => lines.push(l), 1000);
    await vi.advanceTimersByTimeAsync(999);
    expect(lines).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(lines).toEqual(['joining through 1.2.3.4:5 …']);
    await vi.advanceTimersByTimeAsync(5000);
    expect(lines).toHaveLength(1); // once, not every second
    release();
    await slow;

    await withProgress('fast', Promise.resolve(1), (l) => lines.push(l), 1000);
    await vi.advanceTimersByTimeAsync(5000);
    expect(lines).toEqual(['joining through 1.2.3.4:5 …']);
  });
});
