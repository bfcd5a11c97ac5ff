import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/sim/**/*.test.ts', 'test/udp/**/*.test.ts', 'test/signaling/**/*.test.ts', 'test/webrtc/**/*.test.ts', 'test/fuzz/**/*.test.ts', 'test/browser/**/*.test.ts', 'test/bundle/**/*.test.ts', 'test/package/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: the simulation and multi-process UDP tests are CPU-heavy, run files one at a time.
    fileParallelism: false,
  },
});
