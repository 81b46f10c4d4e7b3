import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InputError } from '../domain/errors';

/** Writes a file the CLI was asked for only where none is (or over it with `force`), never through a symlink. */
export async function writeNew(path: string, content: string, opts: { force?: boolean; hint: string }): Promise<void> {
  const force = opts.force ?? false;
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | (force ? constants.O_TRUNC : constants.O_EXCL);
  const fh = await open(path, flags, 0o644).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST') throw new InputError(`${path} exists; ${opts.hint}`);
    if (e.code === 'ELOOP') throw new InputError(`${path} is a symlink; rollgate does not write through it`);
    if (e.code === 'ENOENT') throw new InputError(`${resolve(path, '..')} does not exist`);
    throw e;
  });
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
}
