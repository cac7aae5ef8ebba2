import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileAdapter, fileAdapterPaths, journalRecordBytes } from '../../adapters/fs.js';
import type { PersistenceAdapter } from '../../src/persistence.js';
import { parseJournal } from '../../src/journal.js';
import { expectSameBytes } from '../helpers/bytes.js';
import { journalRecordsOf } from '../helpers/files.js';
import { useSmallDisk } from '../helpers/small-disk.js';
import { independentReaders } from '../helpers/independent-sqlite.js';
import { defineAdapterConformance, noise, record, rejection, sqliteImage, type AdapterLocation } from './conformance.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const HOLD_LOCK = fileURLToPath(new URL('./fixtures/hold-lock.ts', import.meta.url));
const HAS_PROC = existsSync('/proc/self/stat');

/** For the tests that read /proc (Linux): they fail elsewhere, saying so, rather than skip. */
function requireProc(): void {
  if (!HAS_PROC) throw new Error('this test reads /proc/<pid>/stat and /proc/self/fd: run it on Linux');
}

interface FsLocation extends AdapterLocation {
  readonly dir: string;
  readonly path: string;
}

async function newLocation(): Promise<FsLocation> {
  const dir = await mkdtemp(join(tmpdir(), 'pa-fs-'));
  const path = join(dir, 'agent.db');
  return {
    dir,
    path,
    open: () => createFileAdapter({ path }),
    cleanup: async () => {
      await rm(`${dir}.aside`, { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

defineAdapterConformance('fs', newLocation, {
  checkpointFailures: [
    {
      how: 'its directory was replaced by a file: ENOTDIR',
      async arrange(location) {
        await rename(location.dir, `${location.dir}.aside`);
        await writeFile(location.dir, 'not a directory');
        return async () => {
          await unlink(location.dir);
          await rename(`${location.dir}.aside`, location.dir);
        };
      },
    },
  ],
});

describe('fs adapter', () => {
  const locations: FsLocation[] = [];
  const adapters: PersistenceAdapter[] = [];
  const children: ChildProcess[] = [];

  async function location(): Promise<FsLocation> {
    const l = await newLocation();
    locations.push(l);
    return l;
  }
  function adapter(path: string): PersistenceAdapter {
    const a = createFileAdapter({ path });
    adapters.push(a);
    return a;
  }
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const a of adapters.splice(0)) await a.close().catch(() => undefined);
    for (const l of locations.splice(0)) await l.cleanup();
  });
  /** Files in `dir` other than the ones named. */
  const tempFiles = (dir: string) => readdirSync(dir).filter((n) => n.includes('.pa-tmp-'));

  function writeLock(path: string, content: Record<string, unknown> | string): Promise<void> {
    return writeFile(fileAdapterPaths(path).lock, typeof content === 'string' ? content : JSON.stringify(content), { mode: 0o600 });
  }
  function readLock(path: string): Record<string, unknown> {
    return JSON.parse(readFileSync(fileAdapterPaths(path).lock, 'utf8')) as Record<string, unknown>;
  }
  function ownStart(): number {
    const text = readFileSync('/proc/self/stat', 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[19]);
  }
  /** The pid of a process that has exited and been reaped. */
  function deadPid(): number {
    const pid = spawnSync(process.execPath, ['-e', '']).pid;
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }) as Error);
    return pid;
  }
  async function expectLockedBy(a: PersistenceAdapter): Promise<{ pid?: number; host?: string; description: string }> {
    const error = await rejection(a.lock());
    expect(error.code).toBe('LOCKED');
    return error.holder as { pid?: number; host?: string; description: string };
  }

  describe('files', () => {
    it('fileAdapterPaths names the image, journal, lock and temp files next to the database', () => {
      expect(fileAdapterPaths('/data/agent.db')).toEqual({
        image: '/data/agent.db',
        journal: '/data/agent.db.pa-journal',
        lock: '/data/agent.db.pa-lock',
        takeover: '/data/agent.db.pa-lock.takeover',
        tempPrefix: '/data/agent.db.pa-tmp-',
        sqliteWal: '/data/agent.db-wal',
        sqliteShm: '/data/agent.db-shm',
        sqliteJournal: '/data/agent.db-journal',
      });
    });

    it('every file it creates is mode 0600, and only files named `<path>.pa-*` appear beside the image', async () => {
      const { dir, path } = await location();
      const a = adapter(path);
      await a.lock();
      await a.load();
      await a.checkpoint(await sqliteImage(5));
      await a.append!(record(1), 0);
      for (const file of [path, `${path}.pa-journal`, `${path}.pa-lock`]) {
        expect(((await stat(file)).mode & 0o777).toString(8), file).toBe('600');
      }
      const others = readdirSync(dir).filter((n) => n !== 'agent.db');
      expect(others.sort()).toEqual(['agent.db.pa-journal', 'agent.db.pa-lock']);
      // sqlite3 owns `<db>-journal`, `<db>-wal`, `<db>-shm` and `<db>-mj…`: none of ours starts with `<db>-`.
      for (const name of others) expect(name.startsWith('agent.db-')).toBe(false);
    });

    it('a checkpoint keeps the mode of the image it replaces', async () => {
      const { path } = await location();
      const a = adapter(path);
      await a.lock();
      await a.checkpoint(await sqliteImage(1));
      // Modes the usual umasks (022, 002) would strip from a new file: the adapter sets them exactly.
      await chmod(path, 0o666);
      await a.checkpoint(await sqliteImage(2));
      expect(((await stat(path)).mode & 0o777).toString(8)).toBe('666');
      await chmod(path, 0o640);
      await a.checkpoint(await sqliteImage(3));
      expect(((await stat(path)).mode & 0o777).toString(8)).toBe('640');
    });

    it('a checkpoint run as root keeps the owner of the image it replaces (needs root, as CI runs)', async () => {
      if (process.getuid?.() !== 0) throw new Error('this test gives the image another owner (chown), which needs root: run the tests as root, as CI does');
      const { path } = await location();
      const a = adapter(path);
      await a.lock();
      await a.checkpoint(await sqliteImage(1));
      await chown(path, 4321, 4322);
      await a.checkpoint(await sqliteImage(2));
      const s = await stat(path);
      expect([s.uid, s.gid]).toEqual([4321, 4322]);
    });

    it('the image opens in an independent SQLite (sqlite3 / python3), which leaves the journal alone', async () => {
      const { dir, path } = await location();
      const a = adapter(path);
      await a.lock();
      await a.checkpoint(await sqliteImage(300));
      await a.append!(record(301), 0);
      const image = await readFile(path);
      const journal = await readFile(`${path}.pa-journal`);
      const before = readdirSync(dir).sort();
      const readers = independentReaders();
      for (const reader of readers) {
        expect(reader.query(path, 'PRAGMA integrity_check'), reader.name).toEqual([{ integrity_check: 'ok' }]);
        expect(reader.query(path, 'SELECT count(*) AS n, max(id) AS top FROM t'), reader.name).toEqual([{ n: 300, top: 300 }]);
      }
      expectSameBytes(await readFile(path), image, 'image after sqlite3 read it');
      expectSameBytes(await readFile(`${path}.pa-journal`), journal, 'journal after sqlite3 read the image');
      expect(readdirSync(dir).sort()).toEqual(before);
    });
  });

  describe('lock', () => {
    it('the lock file names this process: pid, host, a token, since, and its start time', async () => {
      const { path } = await location();
      await adapter(path).lock();
      const content = readLock(path);
      expect(content.pid).toBe(process.pid);
      expect(content.host).toBe(hostname());
      expect(content.token).toMatch(/^[0-9a-f]{32}$/);
      expect(new Date(content.since as string).toISOString()).toBe(content.since);
      if (HAS_PROC) expect(content.start).toBe(ownStart());
    });

    it('a second adapter in this process gets LOCKED naming this process', async () => {
      const { path } = await location();
      const since = Date.now();
      await adapter(path).lock();
      const holder = await expectLockedBy(adapter(path));
      expect(holder.pid).toBe(process.pid);
      expect(holder.host).toBe(hostname());
      expect(holder.description).toMatch(new RegExp(`^process ${process.pid} on host .+ since \\d{4}-\\d\\d-\\d\\dT`));
      expect(Date.parse(holder.description.split(' since ')[1] as string)).toBeGreaterThanOrEqual(since - 1000);
    });

    it('a lock held by another process is LOCKED with its pid; once it is SIGKILLed the lock is taken over', async () => {
      const { path } = await location();
      const child = spawn(process.execPath, ['--import', 'tsx', HOLD_LOCK, path], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        child.on('exit', (code) => reject(new Error(`the child exited (${code}) before locking: ${stderr}`)));
      });
      expect(line).toBe(`locked ${child.pid}`);

      const parent = adapter(path);
      const holder = await expectLockedBy(parent);
      expect(holder.pid).toBe(child.pid);
      expect(holder.host).toBe(hostname());
      expect(holder.description).toContain(`process ${child.pid} on host ${hostname()} since `);
      expect((await parent.load()).image).toBeUndefined(); // reading needs no lock

      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      await parent.lock();
      expect(readLock(path).pid).toBe(process.pid);
    });

    it('a lock file left by a process that no longer exists is taken over', async () => {
      const { path } = await location();
      const pid = deadPid();
      await writeLock(path, { pid, host: hostname(), token: 'old', since: '2020-01-01T00:00:00.000Z' });
      const a = adapter(path);
      await a.lock();
      const content = readLock(path);
      expect(content.pid).toBe(process.pid);
      expect(content.token).not.toBe('old');
      await a.close();
      expect(existsSync(`${path}.pa-lock`)).toBe(false);
    });

    it('a lock of a zombie (exited, not yet reaped) process is taken over', async () => {
      requireProc();
      const { path } = await location();
      // The background job exits once its parent shell has become `sleep`, which never reaps it.
      const shell = spawn('sh', ['-c', '(sleep 0.2) & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
      children.push(shell);
      const zombie = Number(await new Promise<string>((resolve) => shell.stdout?.once('data', (d: Buffer) => resolve(d.toString()))));
      let state = '';
      for (let i = 0; i < 300 && state !== 'Z'; i++) {
        const text = readFileSync(`/proc/${zombie}/stat`, 'utf8');
        state = text.slice(text.lastIndexOf(')') + 2).split(' ')[0] as string;
        if (state !== 'Z') await new Promise((r) => setTimeout(r, 10));
      }
      expect(state).toBe('Z');
      expect(() => process.kill(zombie, 0)).not.toThrow(); // kill(0) alone would call it alive
      await writeLock(path, { pid: zombie, host: hostname(), token: 'zombie', since: new Date().toISOString() });
      await adapter(path).lock();
      expect(readLock(path).pid).toBe(process.pid);
    });

    it('a lock naming our own pid with another start time (pid reused after a restart) is taken over', async () => {
      requireProc();
      const { path } = await location();
      await writeLock(path, { pid: process.pid, host: hostname(), token: 'previous-life', since: '2020-01-01T00:00:00.000Z', start: ownStart() - 1 });
      await adapter(path).lock();
      expect(readLock(path).token).not.toBe('previous-life');
    });

    it('a lock naming this very process (same start time, or none recorded) is LOCKED', async () => {
      const { path } = await location();
      await writeLock(path, { pid: process.pid, host: hostname(), token: 't1', since: '2020-01-01T00:00:00.000Z', ...(HAS_PROC ? { start: ownStart() } : {}) });
      expect((await expectLockedBy(adapter(path))).pid).toBe(process.pid);
      await writeLock(path, { pid: process.pid, host: hostname(), token: 't2', since: '2020-01-01T00:00:00.000Z' });
      expect((await expectLockedBy(adapter(path))).pid).toBe(process.pid);
      expect(readLock(path).token).toBe('t2');
    });

    it('a lock held on another host counts as alive, whatever its pid', async () => {
      const { path } = await location();
      await writeLock(path, { pid: deadPid(), host: 'elsewhere.example', token: 'far', since: '2026-01-02T03:04:05.000Z' });
      const holder = await expectLockedBy(adapter(path));
      expect(holder.host).toBe('elsewhere.example');
      expect(holder.description).toMatch(/^process \d+ on host elsewhere\.example since 2026-01-02T03:04:05\.000Z$/);
      expect(readLock(path).token).toBe('far');
    });

    it('an unparsable lock file is LOCKED while young (it may be being written) and taken over once old', async () => {
      const { path } = await location();
      await writeLock(path, '{"pid": 12');
      const holder = await expectLockedBy(adapter(path));
      expect(holder.pid).toBeUndefined();
      expect(holder.description).toContain(`${path}.pa-lock`);
      const old = new Date(Date.now() - 60_000);
      await utimes(`${path}.pa-lock`, old, old);
      await adapter(path).lock();
      expect(readLock(path).pid).toBe(process.pid);
    });

    it('concurrent takeovers of a dead lock: exactly one adapter wins, every time', async () => {
      const { path } = await location();
      const pid = deadPid();
      for (let round = 0; round < 25; round++) {
        await writeLock(path, { pid, host: hostname(), token: `dead-${round}`, since: '2020-01-01T00:00:00.000Z' });
        const contenders = [adapter(path), adapter(path), adapter(path), adapter(path)];
        const results = await Promise.allSettled(contenders.map((a) => a.lock()));
        const winners = results.filter((r) => r.status === 'fulfilled');
        expect(winners, `round ${round}`).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') {
            expect((r.reason as { code?: string }).code).toBe('LOCKED');
            expect((r.reason as { holder: { pid?: number } }).holder.pid).toBe(process.pid);
          }
        }
        expect(existsSync(`${path}.pa-lock.takeover`)).toBe(false);
        const winner = contenders[results.indexOf(winners[0] as PromiseSettledResult<void>)] as PersistenceAdapter;
        await winner.close();
        expect(existsSync(`${path}.pa-lock`)).toBe(false);
      }
    });

    it('a takeover directory left by a crash (older than 10 s) is removed; a fresh one makes lock() wait, then LOCKED', async () => {
      const { path } = await location();
      const { takeover } = fileAdapterPaths(path);
      await writeLock(path, { pid: deadPid(), host: hostname(), token: 'dead', since: '2020-01-01T00:00:00.000Z' });
      await mkdir(takeover);
      const started = Date.now();
      const holder = await expectLockedBy(adapter(path));
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
      expect(holder.description).toContain('taking over');
      expect(readLock(path).token).toBe('dead');

      const old = new Date(Date.now() - 60_000);
      await utimes(takeover, old, old);
      await adapter(path).lock();
      expect(readLock(path).pid).toBe(process.pid);
      expect(existsSync(takeover)).toBe(false);
    });

    it('unlock() removes the lock file only while it holds our token', async () => {
      const { path } = await location();
      const a = adapter(path);
      await a.lock();
      await writeLock(path, { pid: 1, host: 'elsewhere.example', token: 'someone else', since: '2020-01-01T00:00:00.000Z' });
      await a.unlock();
      expect(readLock(path).token).toBe('someone else');
    });

    it('lock() removes temp files left by crashed checkpoints; load() (no owner) leaves them', async () => {
      const { dir, path } = await location();
      await writeFile(`${path}.pa-tmp-999-deadbeef`, 'half an image');
      await mkdir(`${path}.pa-tmp-1-dir`);
      await writeFile(join(`${path}.pa-tmp-1-dir`, 'x'), 'x');
      await writeFile(join(dir, 'other.db.pa-tmp-1-2'), 'not ours');
      await writeFile(`${path}.pa-tmpx`, 'not a temp name');
      await adapter(path).load();
      expect(tempFiles(dir).sort()).toEqual(['agent.db.pa-tmp-1-dir', 'agent.db.pa-tmp-999-deadbeef', 'other.db.pa-tmp-1-2']);
      await adapter(path).lock();
      expect(tempFiles(dir)).toEqual(['other.db.pa-tmp-1-2']);
      expect(existsSync(`${path}.pa-tmpx`)).toBe(true);
    });

    it('lock() in a directory that does not exist rejects with the fs error', async () => {
      const { dir } = await location();
      const error = await rejection(adapter(join(dir, 'missing', 'agent.db')).lock());
      expect(error.code).toBe('ENOENT');
    });
  });

  describe('load, append, checkpoint', () => {
    it('load() of a path in a missing directory, or of an image that is a directory, rejects with the fs error', async () => {
      const { dir, path } = await location();
      expect((await rejection(adapter(join(dir, 'missing', 'agent.db')).load())).code).toBe('ENOENT');
      await mkdir(path);
      expect((await rejection(adapter(path).load())).code).toBe('EISDIR');
    });

    it('load() hands the image over (imageOwned) in memory of its own, with room to grow by the image and the journal', async () => {
      const { path } = await location();
      const a = adapter(path);
      await a.lock();
      const image = await sqliteImage(50);
      await a.checkpoint(image);
      await a.append!(Buffer.concat([record(1), record(2)]), 0);
      const first = await a.load();
      const second = await a.load();
      expect(first.imageOwned).toBe(true);
      expectSameBytes(first.image as Uint8Array, image, 'loaded image');
      // Fresh memory at every load (the store writes into it), with spare capacity after the view.
      expect(first.image?.buffer).not.toBe(second.image?.buffer);
      const journalSize = first.journal?.byteLength ?? 0;
      expect(journalSize).toBeGreaterThan(0);
      expect(first.image?.buffer.byteLength).toBeGreaterThanOrEqual(Math.ceil((image.byteLength + journalSize) * 1.5));
    });

    it('an append after a load whose journal ends with garbage truncates the garbage', async () => {
      const { path } = await location();
      const r1 = record(1);
      await writeFile(`${path}.pa-journal`, Buffer.concat([r1, noise(100, 7)]));
      const a = adapter(path);
      await a.lock();
      const parsed = parseJournal((await a.load()).journal ?? new Uint8Array(0));
      expect([parsed.validLength, parsed.tornBytes]).toEqual([r1.length, 100]);
      const r2 = record(2);
      await a.append!(r2, parsed.validLength);
      expectSameBytes(journalRecordsOf(`${path}.pa-journal`), Buffer.concat([r1, r2]), 'journal file');
    });

    it('appends write zeros ahead of the records, so that most of them do not grow the file; load() and journalRecordBytes() leave the zeros out; a checkpoint empties the file', async () => {
      const { path } = await location();
      const a = adapter(path);
      await a.lock();
      const written: Uint8Array[] = [];
      const sizes = new Set<number>();
      let at = 0;
      for (let n = 1; n <= 400; n++) {
        const r = record(n, 'x'.repeat(500));
        await a.append!(r, at);
        at += r.length;
        written.push(r);
        sizes.add((await stat(`${path}.pa-journal`)).size);
        expect((await stat(`${path}.pa-journal`)).size).toBeGreaterThan(at);
      }
      // 400 appends of ~550 bytes (about 215 KiB): the file grew a few times (64, 128 KiB ahead…), not 400.
      expect(sizes.size).toBeLessThanOrEqual(4);
      expectSameBytes(journalRecordsOf(`${path}.pa-journal`), Buffer.concat(written), 'journal records');
      expect(journalRecordBytes(`${path}.pa-journal`)).toBe(at);
      const loaded = await adapter(path).load();
      expectSameBytes(loaded.journal ?? new Uint8Array(0), Buffer.concat(written), 'loaded journal');
      expect(parseJournal(loaded.journal ?? new Uint8Array(0)).tornBytes).toBe(0);
      await a.checkpoint(await sqliteImage(3));
      expect((await stat(`${path}.pa-journal`)).size).toBe(0);
      expect(journalRecordBytes(`${path}.pa-journal`)).toBe(0);
      expect(journalRecordBytes(`${path}.missing`)).toBe(0);
      await a.append!(record(1), 0);
      expectSameBytes(journalRecordsOf(`${path}.pa-journal`), record(1), 'journal after the checkpoint');
    });

    it('an append writes about its own bytes to the disk, not a large folio of the zeros ahead: fresh, after a reopen and after a trim (Linux: /proc/self/io)', async () => {
      requireProc();
      const writeBytes = (): number => Number(/^write_bytes:\s+(\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1]);
      const { path } = await location();
      let a = adapter(path);
      await a.lock();
      let at = 0;
      let n = 0;
      // Bytes the process wrote to the disk per append, over 200 appends of ~1.7 KB each.
      const perAppend = async (): Promise<number> => {
        const before = writeBytes();
        for (let i = 0; i < 200; i++) {
          const r = record(++n, 'w'.repeat(1700));
          await a.append!(r, at);
          at += r.length;
        }
        return (writeBytes() - before) / 200;
      };
      // A first ~1 MiB of records, so that the zeros ahead are 1 MiB at a time from here on.
      const big = record(++n, 'v'.repeat(2 ** 20));
      await a.append!(big, 0);
      at = big.length;
      // Each append dirties a page or two of records and the file system's bookkeeping; the zeros
      // ahead add ~1.7 KB per append on average. Written in one 1 MiB write, it was 1 MiB per append.
      const limit = 64 * 1024;
      expect(await perAppend()).toBeLessThan(limit);
      await a.close();
      a = adapter(path);
      await a.lock();
      const loaded = await a.load();
      expect(loaded.journal?.length).toBe(at);
      expect(await perAppend()).toBeLessThan(limit);
      const from = big.length;
      await a.trimJournal!(from);
      at -= from;
      expect(await perAppend()).toBeLessThan(limit);
      expect(journalRecordBytes(`${path}.pa-journal`)).toBe(at);
      await a.close();
    });

    it('after a reopen the journal ends where its records end, not where the zeros ahead end: an append past it is refused, a trim at it empties the file', async () => {
      const { path } = await location();
      const a = adapter(path);
      await a.lock();
      const r1 = record(1, 'a'.repeat(300));
      const r2 = record(2, 'b'.repeat(300));
      await a.append!(r1, 0);
      await a.append!(r2, r1.length);
      await a.close();
      const end = r1.length + r2.length;
      expect((await stat(`${path}.pa-journal`)).size).toBeGreaterThan(end);
      const b = adapter(path);
      await b.lock();
      expect(await rejection(b.append!(record(3), end + 100))).toBeInstanceOf(RangeError);
      expect(await rejection(b.trimJournal!(end + 1))).toBeInstanceOf(RangeError);
      expectSameBytes(journalRecordsOf(`${path}.pa-journal`), Buffer.concat([r1, r2]), 'journal after the refusals');
      await b.trimJournal!(r1.length);
      expectSameBytes(journalRecordsOf(`${path}.pa-journal`), r2, 'journal after a trim of the first record');
      await b.close();
      const c = adapter(path);
      await c.lock();
      await c.trimJournal!(r2.length);
      expect((await stat(`${path}.pa-journal`)).size).toBe(0);
      await c.close();
    });

    it('appends awaited one after another still give the event loop its turns (a quick fdatasync runs on the loop, but not every one)', async () => {
      const { path } = await location();
      const a = adapter(path);
      await a.lock();
      let at = 0;
      const append = async (n: number): Promise<void> => {
        const r = record(n, 'y'.repeat(200));
        await a.append!(r, at);
        at += r.length;
      };
      // A first record of 1.5 MiB: the zeros ahead of it (1 MiB) hold the next ~4,800 appends, none
      // of which then writes zeros (the one part of an append that always goes through the thread pool).
      const first = record(0, 'z'.repeat(1.5 * 2 ** 20));
      await a.append!(first, 0);
      at = first.length;
      for (let n = 1; n <= 20; n++) await append(n);
      // A sync that took a while (the first ones after a large write may) sends the next ones off
      // the loop for a second: wait that out, then one append (off the loop: the loop had its turn).
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await append(21);
      // From here on, a loop that only awaits appends: the callback runs once one of them yields.
      let doneWhenFired: number | undefined;
      let done = 0;
      setImmediate(() => (doneWhenFired = done));
      const limit = 4_000;
      while (doneWhenFired === undefined && done < limit) await append(21 + ++done);
      expect(doneWhenFired).toBeDefined();
      expect(doneWhenFired).toBeLessThan(limit);
      const loaded = parseJournal((await adapter(path).load()).journal ?? new Uint8Array(0));
      expect(loaded.tornBytes).toBe(0);
      expect(journalRecordBytes(`${path}.pa-journal`)).toBe(at);
    });

    it('an append that fails (the journal is a directory) rejects with the fs error; after a fix it works', async () => {
      const { path } = await location();
      await mkdir(`${path}.pa-journal`);
      const a = adapter(path);
      await a.lock();
      expect((await rejection(a.append!(record(1), 0))).code).toBe('EISDIR');
      await rm(`${path}.pa-journal`, { recursive: true });
      await a.append!(record(1), 0);
      expectSameBytes(journalRecordsOf(`${path}.pa-journal`), record(1), 'journal');
    });

    it('a large append (over 1 MiB, written off the event loop) lands byte-exact', async () => {
      const { path } = await location();
      const a = adapter(path);
      await a.lock();
      const small = record(1);
      const big = record(2, 'b'.repeat(3 * 1024 * 1024 + 5));
      await a.append!(small, 0);
      await a.append!(big, small.length);
      expectSameBytes(journalRecordsOf(`${path}.pa-journal`), Buffer.concat([small, big]), 'journal');
    });

    it('a checkpoint of an image larger than its write pieces (8 MiB, each synced before the next) lands byte-exact', async () => {
      const { dir, path } = await location();
      const a = adapter(path);
      await a.lock();
      await a.append!(record(1), 0);
      // Two whole pieces and a short third one, so a piece's offset or length going wrong shows.
      const image = noise(2 * 8 * 1024 * 1024 + 4099, 7);
      await a.checkpoint(image);
      expectSameBytes(await readFile(path), image, 'image');
      expect((await stat(`${path}.pa-journal`)).size).toBe(0);
      expect(tempFiles(dir)).toEqual([]);
    });

    it('a checkpoint leaves no temp file behind when it succeeds, nor when its rename fails (the image is a directory)', async () => {
      const { dir, path } = await location();
      const a = adapter(path);
      await a.lock();
      for (let i = 1; i <= 3; i++) await a.checkpoint(await sqliteImage(i * 10));
      expect(tempFiles(dir)).toEqual([]);

      const { dir: dir2, path: path2 } = await location();
      await mkdir(path2);
      await writeFile(join(path2, 'keep'), 'x');
      const b = adapter(path2);
      await b.lock();
      const error = await rejection(b.checkpoint(await sqliteImage(10)));
      expect(['EISDIR', 'ENOTEMPTY', 'EEXIST']).toContain(error.code);
      expect(tempFiles(dir2)).toEqual([]);
      expect(readdirSync(path2)).toEqual(['keep']);
    });

    it('the old image is replaced by rename, never written in place (a reader holding it open keeps the old bytes)', async () => {
      const { path } = await location();
      const a = adapter(path);
      await a.lock();
      const first = await sqliteImage(50, 'first');
      await a.checkpoint(first);
      const before = (await stat(path)).ino;
      const handle = await import('node:fs/promises').then((f) => f.open(path, 'r'));
      try {
        await a.checkpoint(await sqliteImage(80, 'second'));
        expect((await stat(path)).ino).not.toBe(before);
        const old = await handle.readFile();
        expectSameBytes(old, first, 'the old image through a handle opened before the checkpoint');
      } finally {
        await handle.close();
      }
    });

    it('an image reached through a symbolic link: one lock with the target, and a checkpoint replaces the target, not the link', async () => {
      const { dir, path } = await location();
      const target = adapter(path);
      await target.lock();
      const first = await sqliteImage(5, 'first');
      await target.checkpoint(first);
      await target.unlock();
      const link = join(dir, 'link.db');
      await symlink(path, link);
      const viaLink = adapter(link);
      await viaLink.lock();
      expect(readdirSync(dir).filter((n) => n.startsWith('link.db.'))).toEqual([]);
      await expectLockedBy(adapter(path));
      expectSameBytes((await viaLink.load()).image ?? new Uint8Array(0), first, 'image through the link');
      await viaLink.append!(record(1), 0);
      const second = await sqliteImage(9, 'second');
      await viaLink.checkpoint(second);
      expect((await lstat(link)).isSymbolicLink()).toBe(true);
      expectSameBytes(await readFile(path), second, 'the target after a checkpoint through the link');
      expect((await stat(`${path}.pa-journal`)).size).toBe(0);
    });

    it('close() closes the journal and removes the lock; a second close() does nothing; then calls reject CLOSED', async () => {
      requireProc();
      const { path } = await location();
      const a = adapter(path);
      await a.lock();
      await a.append!(record(1), 0);
      const journalFds = () =>
        readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`) === `${path}.pa-journal`;
          } catch {
            return false;
          }
        });
      expect(journalFds()).toHaveLength(1);
      await a.close();
      expect(journalFds()).toHaveLength(0);
      expect(existsSync(`${path}.pa-lock`)).toBe(false);
      await a.close();
      expect((await rejection(a.load())).code).toBe('CLOSED');
      expect((await rejection(a.lock())).code).toBe('CLOSED');
    });

    it('createFileAdapter refuses a missing path', () => {
      expect(() => createFileAdapter({ path: '' })).toThrow(TypeError);
      expect(() => createFileAdapter({} as { path: string })).toThrow(/path/);
    });
  });

  describe('on a full disk (a 1 MiB tmpfs; needs mount rights: root on Linux)', () => {
    const smallDisk = useSmallDisk('pa-fs-full');

    it('a checkpoint failing with ENOSPC mid-write leaves the old image and journal, and no temp file', async () => {
      const disk = smallDisk();
      const path = join(disk, 'agent.db');
      const a = adapter(path);
      await a.lock();
      const old = await sqliteImage(20, 'old');
      await a.checkpoint(old);
      await a.append!(record(1), 0);
      const error = await rejection(a.checkpoint(noise(2 * 1024 * 1024)));
      expect(error.code).toBe('ENOSPC');
      expect(tempFiles(disk)).toEqual([]);
      const loaded = await adapter(path).load();
      expectSameBytes(loaded.image ?? new Uint8Array(0), old, 'image');
      expectSameBytes(loaded.journal ?? new Uint8Array(0), record(1), 'journal');
      const next = await sqliteImage(30, 'next');
      await a.checkpoint(next);
      expectSameBytes(await readFile(path), next, 'image after space came back');
    });

    it('an append failing with ENOSPC rejects; the retry at the same offset, with space back, gives the exact journal', async () => {
      const disk = smallDisk();
      const path = join(disk, 'agent.db');
      const a = adapter(path);
      await a.lock();
      const r1 = record(1);
      await a.append!(r1, 0);
      const filler = join(disk, 'filler');
      await rejection(writeFile(filler, new Uint8Array(2 * 1024 * 1024)));
      // Several records in one append, more pages than are left: some of them land, then ENOSPC.
      const batch = Buffer.concat([2, 3, 4, 5].map((n) => record(n, 'z'.repeat(40 * 1024))));
      expect((await rejection(a.append!(batch, r1.length))).code).toBe('ENOSPC');
      await unlink(filler);
      // The store may retry with less (the same records, or fewer): nothing of the failed attempt may remain.
      const r2 = record(2, 'short');
      await a.append!(r2, r1.length);
      expectSameBytes(journalRecordsOf(`${path}.pa-journal`), Buffer.concat([r1, r2]), 'journal after the retry');
      expect(parseJournal(journalRecordsOf(`${path}.pa-journal`)).tornBytes).toBe(0);
    });
  });
});
