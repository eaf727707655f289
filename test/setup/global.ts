// vitest globalSetup: one throwaway PostgreSQL cluster for the whole run
// (test/setup/postgres.ts), stopped when the run ends. Tests reach it through
// METALWAVE_TEST_PG_URL and METALWAVE_TEST_PG_PASSWORD, which the workers inherit.
//
// It also gives every `metalwave` the tests spawn (the CLI as a child process, the
// installed package) Node's on-disk compile cache, through NODE_COMPILE_CACHE, which the
// workers and their children inherit: Node then strips the TypeScript sources and compiles
// them once per content, not once per process. A child's start costs a third of the CPU
// it did (measured: `node src/cli/main.ts --version` 1.7 s of CPU without, 0.7 s with),
// and the CLI tests spawn dozens. An operator's own NODE_COMPILE_CACHE is left as it is.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PG_PASSWORD_ENV, PG_URL_ENV, startCluster } from './postgres.ts';

export default async function setup(): Promise<() => void> {
  process.env['NODE_COMPILE_CACHE'] ??= join(tmpdir(), 'metalwave-test-node-compile-cache');
  if (process.env[PG_URL_ENV]) return () => {};
  const cluster = await startCluster();
  process.env[PG_URL_ENV] = cluster.url;
  process.env[PG_PASSWORD_ENV] = cluster.password;
  return () => cluster.stop();
}
