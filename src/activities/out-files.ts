import { constants } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/**
 * Every file rollgate writes or reads under a release's output folder. The folder is named by the
 * repository's config and the repository is the change being judged, so it may hold symlinks
 * (`out/ledger.jsonl -> /etc/…`, `out/analysis -> /elsewhere`, `out -> /`): nothing here follows
 * one, from the output folder itself down to the file. The folder's parents are not checked.
 * (Between the check of a folder and the open below it a local process could still swap it; such a
 * process could write there itself. The file's own name is never followed: O_NOFOLLOW.)
 */
export interface OutFolder {
  /** The release's output folder; every path must lie inside it. */
  root: string;
}

/** A path under the output folder that rollgate will not use: a symlink, or not inside the folder. */
export class UnsafePath extends Error {
  constructor(
    /** The path as `<output folder name>/<path inside it>`. */
    readonly path: string,
    reason: string,
  ) {
    super(`${path} ${reason}`);
    this.name = 'UnsafePath';
  }
}

const SYMLINK = 'is a symlink: rollgate does not follow symlinks in its output folder';
const { O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_WRONLY } = constants;

/** `out/ledger.jsonl`: named from the output folder, not from the machine's root. */
const shown = (root: string, path: string) => join(basename(root), relative(root, path));

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** ELOOP from O_NOFOLLOW means the file's own name is a symlink. */
const refuseLoop = (root: string, path: string) => (e: unknown): never => {
  if (code(e) === 'ELOOP') throw new UnsafePath(shown(root, path), SYMLINK);
  throw e;
};

/**
 * Checks the folders from the output folder (inclusive) down to `path`'s folder, creating missing
 * ones one level at a time when `create`; false when one is missing and not created.
 */
async function checkFolders(path: string, root: string, create: boolean): Promise<boolean> {
  const rel = relative(root, path);
  if (!rel || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new UnsafePath(path, `is not inside the output folder ${basename(root)}`);
  let dir = root;
  for (const part of ['', ...rel.split(sep).slice(0, -1)]) {
    dir = join(dir, part);
    let st = await lstat(dir).catch((e: unknown) => (code(e) === 'ENOENT' ? undefined : Promise.reject(e)));
    if (!st) {
      if (!create) return false;
      // The output folder's parents are the operator's; below it, one level at a time, each checked.
      await mkdir(dir, { recursive: dir === root }).catch((e: unknown) => (code(e) === 'EEXIST' ? undefined : Promise.reject(e)));
      st = await lstat(dir);
    }
    if (st.isSymbolicLink()) throw new UnsafePath(shown(root, dir), SYMLINK);
    if (!st.isDirectory()) throw new UnsafePath(shown(root, dir), 'is not a folder');
  }
  return true;
}

const paths = (path: string, opts: OutFolder) => ({ path: resolve(path), root: resolve(opts.root) });

/**
 * Appends one whole line with a single write of one buffer, so appenders in other workers and
 * processes never interleave inside a line (O_APPEND on a local file system). After a line torn by
 * a crash, the new line starts on a line of its own, in the same write.
 */
export async function appendLine(file: string, line: string, opts: OutFolder): Promise<void> {
  if (line.includes('\n')) throw new Error('appendLine: a line holds no newline');
  await appendWhole(file, line, opts);
}

/** Lines appended as one block in one write, the same way: a crash leaves the block whole or torn, never interleaved. */
export async function appendBlock(file: string, block: string, opts: OutFolder): Promise<void> {
  await appendWhole(file, block.replace(/\n+$/, ''), opts);
}

async function appendWhole(file: string, line: string, opts: OutFolder): Promise<void> {
  const { path, root } = paths(file, opts);
  await checkFolders(path, root, true);
  const fh = await open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW, 0o644).catch(refuseLoop(root, path));
  try {
    const { size } = await fh.stat();
    const last = Buffer.alloc(1);
    const torn = size > 0 && (await fh.read(last, 0, 1, size - 1)).bytesRead === 1 && last[0] !== 0x0a;
    const buf = Buffer.from(`${torn ? '\n' : ''}${line}\n`);
    const { bytesWritten } = await fh.write(buf, 0, buf.length);
    // Writing the rest could land inside another appender's line: the short line stays torn, readers pass it over.
    if (bytesWritten !== buf.length) throw new Error(`${shown(root, path)}: short write (${bytesWritten} of ${buf.length} bytes)`);
  } finally {
    await fh.close();
  }
}

/** The file's text, or undefined when it (or a folder above it) does not exist. */
export async function readText(file: string, opts: OutFolder): Promise<string | undefined> {
  const { path, root } = paths(file, opts);
  if (!(await checkFolders(path, root, false))) return undefined;
  const fh = await open(path, O_RDONLY | O_NOFOLLOW).catch((e: unknown) => (code(e) === 'ENOENT' ? undefined : refuseLoop(root, path)(e)));
  if (!fh) return undefined;
  try {
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * The JSON-object lines of a JSON-lines file. A line that is not a JSON object (torn by a crash
 * mid-write, or written by someone else) is counted in `skippedLines` and passed over.
 */
export async function readLines<T = Record<string, unknown>>(file: string, opts: OutFolder): Promise<{ lines: T[]; skippedLines: number }> {
  const text = (await readText(file, opts)) ?? '';
  const lines: T[] = [];
  let skippedLines = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) lines.push(v as T);
      else skippedLines++;
    } catch {
      skippedLines++;
    }
  }
  return { lines, skippedLines };
}

/** Replaces the file in one step (a temporary file beside it, then rename): readers see all of it or none. */
export async function writeFileAtomic(file: string, content: string | Uint8Array, opts: OutFolder): Promise<void> {
  const { path, root } = paths(file, opts);
  await checkFolders(path, root, true);
  // rename would replace a symlink rather than follow it; refused all the same, so the attack is reported.
  const st = await lstat(path).catch((e: unknown) => (code(e) === 'ENOENT' ? undefined : Promise.reject(e)));
  if (st?.isSymbolicLink()) throw new UnsafePath(shown(root, path), SYMLINK);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  try {
    try {
      await fh.writeFile(content);
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Opens the file for appending (a command's log), refusing symlinks as appendLine does. */
export async function openAppend(file: string, opts: OutFolder): Promise<FileHandle> {
  const { path, root } = paths(file, opts);
  await checkFolders(path, root, true);
  return open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o644).catch(refuseLoop(root, path));
}

/** Removes the file if it is there; a symlinked folder above it is refused, a symlink in its place removed (never followed). */
export async function removeFile(file: string, opts: OutFolder): Promise<void> {
  const { path, root } = paths(file, opts);
  if (await checkFolders(path, root, false)) await rm(path, { force: true });
}
