// A throwaway PostgreSQL cluster for the tests: initdb in a temporary
// directory, listening on 127.0.0.1 only at a free port and on a socket inside
// that directory, password authentication (scram-sha-256) for one superuser.
// Root may not run PostgreSQL, so as root the cluster belongs to the `postgres`
// user that Debian's package creates. Started once per test run by
// test/setup/global.ts; tests read its URL and password from the environment.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const PG_URL_ENV = 'METALWAVE_TEST_PG_URL';
export const PG_PASSWORD_ENV = 'METALWAVE_TEST_PG_PASSWORD';

export interface TestCluster {
  /** postgres://metalwave@127.0.0.1:PORT/postgres: no password in it. */
  url: string;
  password: string;
  port: number;
  dir: string;
  stop: () => void;
}

/** Where Debian puts the server binaries (/usr/lib/postgresql/<version>/bin), newest first; else PATH. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  }
  const found = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  return found.status === 0 ? join(found.stdout.trim(), '..') : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export async function startCluster(): Promise<TestCluster> {
  const bin = postgresBinDir();
  if (bin === undefined) {
    throw new Error("PostgreSQL's server binaries (initdb) are not installed: run npm test (its pretest installs Debian's postgresql) or apt-get install postgresql");
  }
  const owner = postgresUser();
  const dir = mkdtempSync(join(tmpdir(), 'metalwave-pg-'));
  const data = join(dir, 'data');
  const password = randomBytes(18).toString('base64url');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(pwfile, owner.uid, owner.gid);
  }
  chmodSync(dir, 0o700);
  const as = (command: string, args: string[]): void => {
    const full = join(bin, command);
    const [cmd, rest] = owner ? ['runuser', ['-u', 'postgres', '--', full, ...args]] : [full, args];
    execFileSync(cmd, rest, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  };
  as('initdb', ['-D', data, '--username=metalwave', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--no-sync', '-E', 'UTF8', '--locale=C']);
  rmSync(pwfile);
  const port = await freePort();
  // Loopback only; fsync off: a test cluster need not survive a power cut, and it is faster.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=on -c max_connections=200`;
  as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '60', 'start']);
  const stop = (): void => {
    try {
      as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return { url: `postgres://metalwave@127.0.0.1:${port}/postgres`, password, port, dir, stop };
}
