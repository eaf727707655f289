// What the test suite needs from the machine beyond npm packages, and how it gets it.
//
// `npm test` runs this first (the `pretest` script), so the README's two commands
// (`npm ci && npm test`) are all a fresh machine needs: whatever is missing is
// installed from Debian's packages when we may (root, or password-less sudo), and
// otherwise the run stops here with what is missing, why, and the command to run.
// Each entry says which tests need it; add one here rather than in .ci/run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { postgresBinDir } from './postgres.ts';

export interface SystemDep {
  /** Short name printed in messages. */
  readonly name: string;
  /** Which tests need it, in a few words. */
  readonly neededBy: string;
  /** Debian packages that provide it. */
  readonly debianPackages: readonly string[];
  /** True when it is already usable on this machine. */
  readonly present: () => boolean;
}

const onPath = (command: string): boolean =>
  spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

export const systemDeps: readonly SystemDep[] = [
  {
    name: 'chromium',
    neededBy: 'the dashboard test (test/service/dashboard.test.ts, through playwright-core)',
    debianPackages: ['chromium'],
    present: () => existsSync('/usr/bin/chromium'),
  },
  {
    name: 'systemd-analyze',
    neededBy: 'the systemd unit checks (test/service/systemd-doc.test.ts: systemd-analyze verify and security)',
    debianPackages: ['systemd'],
    present: () => onPath('systemd-analyze'),
  },
  {
    name: 'ssh-keygen',
    neededBy: 'the known_hosts tests (test/ssh/known-hosts.test.ts: OpenSSH finds, fingerprints and removes the pinned keys)',
    debianPackages: ['openssh-client'],
    present: () => onPath('ssh-keygen'),
  },
  {
    name: 'promtool',
    neededBy: 'the metrics and alert-rule checks (test/service/deploy.test.ts: promtool check metrics, check rules, test rules); Debian ships promtool only in the prometheus package (its server is installed too, and on a machine with systemd it starts)',
    debianPackages: ['prometheus'],
    present: () => onPath('promtool'),
  },
  {
    name: 'script (util-linux)',
    neededBy: 'the terminal rendering test (test/cli/tty.test.ts runs metalwave in a pseudo-terminal)',
    debianPackages: ['bsdutils'],
    present: () => onPath('script'),
  },
  {
    name: 'postgresql',
    neededBy: "the store's tests on PostgreSQL and the standby tests (test/store, test/service/standby.test.ts): each run starts a throwaway cluster (test/setup/postgres.ts)",
    debianPackages: ['postgresql'],
    present: () => postgresBinDir() !== undefined,
  },
  {
    name: 'Go and gomaasapi',
    neededBy: "the gomaasapi tour of the simulator (test/gomaasapi/tour.test.ts: Juju's MAAS client, built offline from Debian's sources)",
    debianPackages: ['golang-go', 'golang-github-juju-gomaasapi-dev'],
    present: () => onPath('go') && existsSync('/usr/share/gocode/src/github.com/juju/gomaasapi/controller.go'),
  },
];

function privilegePrefix(): string[] | undefined {
  if (process.getuid?.() === 0) return [];
  if (onPath('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return ['sudo', '-n'];
  return undefined;
}

function main(): number {
  const missing = systemDeps.filter((dep) => !dep.present());
  if (missing.length === 0) return 0;
  const packages = [...new Set(missing.flatMap((dep) => dep.debianPackages))];
  const describe = missing.map((dep) => `  - ${dep.name}: needed by ${dep.neededBy}`).join('\n');
  const prefix = privilegePrefix();
  if (prefix === undefined || !onPath('apt-get')) {
    process.stderr.write(
      `metalwave's tests need these from the system, and this machine lacks them:\n${describe}\n` +
        `Install them (Debian/Ubuntu): sudo apt-get install -y --no-install-recommends ${packages.join(' ')}\n` +
        (onPath('apt-get') ? '' : 'apt-get was not found: install the equivalent packages of your system.\n'),
    );
    return 1;
  }
  process.stderr.write(`installing what the tests need from Debian (${packages.join(', ')}):\n${describe}\n`);
  const run = (args: string[]): void => {
    const [command, ...rest] = [...prefix, ...args];
    execFileSync(command as string, rest, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  try {
    run(['apt-get', 'update', '-q']);
    run(['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...packages]);
  } catch (error) {
    process.stderr.write(`installing ${packages.join(' ')} failed: ${(error as Error).message}\n`);
    return 1;
  }
  const still = missing.filter((dep) => !dep.present());
  if (still.length > 0) {
    process.stderr.write(`still missing after the install: ${still.map((dep) => dep.name).join(', ')}\n`);
    return 1;
  }
  return 0;
}

if (import.meta.main) process.exitCode = main();
