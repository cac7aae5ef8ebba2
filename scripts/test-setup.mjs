/**
 * `npm test`'s first step: what the tests need beyond npm. The browser and dashboard tests need
 * Chromium (`$CHROMIUM_PATH`, else Debian's /usr/bin/chromium, driven by playwright-core, which
 * downloads nothing); the file-format tests need the `sqlite3` shell. When both are there this
 * prints nothing. When one is missing, as root with apt, it installs what is missing, once, saying
 * so in one line. Anywhere else it stops the run at once with one line naming the command to run:
 * the tests never skip for want of them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';

const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function runs(command, args) {
  return spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 }).status === 0;
}

const needs = [
  { what: `Chromium (${chromium})`, pkg: 'chromium', found: () => existsSync(chromium) },
  { what: 'the sqlite3 shell', pkg: 'sqlite3', found: () => runs('sqlite3', ['-version']) },
];

let missing = needs.filter((need) => !need.found());
if (missing.length === 0) process.exit(0);

const packages = missing.map((need) => need.pkg).join(' ');
const whats = missing.map((need) => need.what).join(' and ');
const command = `apt-get update && apt-get install -y ${packages}`;

// A CHROMIUM_PATH that names nothing is a mistake to fix, not a package to install.
if (process.env.CHROMIUM_PATH && !existsSync(chromium)) {
  console.error(`test setup: CHROMIUM_PATH=${chromium} does not exist; point it at a Chromium or Chrome binary, or unset it to use Debian's (${command.replace(packages, 'chromium')})`);
  process.exit(1);
}
const root = process.getuid?.() === 0;
if (!root || !runs('apt-get', ['--version'])) {
  console.error(`test setup: ${whats} ${missing.length > 1 ? 'are' : 'is'} missing; install ${missing.length > 1 ? 'them' : 'it'} as root with \`${command}\`${missing.some((n) => n.pkg === 'chromium') ? ' (or set CHROMIUM_PATH to a Chromium)' : ''}, then run npm test again`);
  process.exit(1);
}

console.log(`test setup: installing ${packages} with apt-get, once: the tests need ${whats}`);
// apt's own output goes to a log, shown only when it fails. The lock timeout: another apt may be running.
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const log = [];
for (const args of [['update', '-q'], ['install', '-y', '-q', ...missing.map((need) => need.pkg)]]) {
  const run = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  log.push(`$ apt-get ${args.join(' ')}\n${run.stdout ?? ''}${run.stderr ?? ''}`);
  if (run.status !== 0) break;
}
mkdirSync('test-output', { recursive: true });
writeFileSync('test-output/test-setup.log', log.join('\n'));
missing = missing.filter((need) => !need.found());
if (missing.length > 0) {
  console.error(log.join('\n').trim().split('\n').slice(-15).join('\n'));
  console.error(`test setup: apt-get could not install ${missing.map((n) => n.pkg).join(' ')} (log: test-output/test-setup.log); run \`${command}\` yourself, then npm test again`);
  process.exit(1);
}
