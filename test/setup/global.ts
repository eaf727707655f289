// vitest globalSetup: one throwaway PostgreSQL cluster for the whole run
// (test/setup/postgres.ts), stopped when the run ends. Tests reach it through
// METALWAVE_TEST_PG_URL and METALWAVE_TEST_PG_PASSWORD, which the workers inherit.
import { PG_PASSWORD_ENV, PG_URL_ENV, startCluster } from './postgres.ts';

export default async function setup(): Promise<() => void> {
  if (process.env[PG_URL_ENV]) return () => {};
  const cluster = await startCluster();
  process.env[PG_URL_ENV] = cluster.url;
  process.env[PG_PASSWORD_ENV] = cluster.password;
  return () => cluster.stop();
}
