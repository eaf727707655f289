import { defineConfig } from 'vitest/config';

// Files whose tests run in one process and leave nothing behind (no nock interceptors, no
// child processes, no service or store left open between files): they share one worker
// without isolation, so the sources they import are loaded once rather than once a file
// (measured: 40 such files 62 s alone, 37 s shared, on a loaded 2-core machine). Everything
// else (nock's test/maas, the CLI, the service, the runtime's and the layers' end-to-end
// runs, the stores) keeps a fresh worker per file.
//
// `npm test` runs two files at a time (--maxWorkers=2 in package.json, not here: the projects
// below inherit this file's options, and a project's maxWorkers would win over a targeted
// run's --maxWorkers=1). vitest's default on 2 cores is one (cores - 1), which runs the suite
// in series although most of its wall time is waiting: the baseline full run spent 914 s in
// tests for 55 s of transform and import, and the end-to-end files wait on simulated
// regions, child processes and leases (test/runtime/regions: 13 s of CPU in 70 s).
const SHARED = [
  'test/config.test.ts',
  'test/fakes/**/*.test.ts',
  'test/integration/**/*.test.ts',
  'test/juju/**/*.test.ts',
  'test/roles/**/*.test.ts',
  'test/sim/**/*.test.ts',
  'test/sim-hosts/**/*.test.ts',
  'test/ssh/**/*.test.ts',
  'test/state-machines/**/*.test.ts',
  'test/structure/**/*.test.ts',
];

export default defineConfig({
  test: {
    // One throwaway PostgreSQL cluster per run, for the store's tests on that backend.
    globalSetup: ['test/setup/global.ts'],
    projects: [
      { extends: true, test: { name: 'shared', include: SHARED, isolate: false } },
      { extends: true, test: { name: 'isolated', include: ['test/**/*.test.ts'], exclude: SHARED } },
    ],
  },
});
