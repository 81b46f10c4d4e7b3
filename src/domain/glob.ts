/**
 * Minimal glob matcher for repository paths (pure, so the workflow sandbox can use it).
 * Supports `**` (any number of folders), `*` and `?` (within a segment), `{a,b}` alternatives.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slashAfter = glob[i + 2] === '/';
        re += slashAfter ? '(?:.*/)?' : '.*';
        i += slashAfter ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${glob.slice(i + 1, end).split(',').map((alt) => globToRegExp(alt).source.slice(1, -1)).join('|')})`;
        i = end;
      }
    } else re += escape(c);
  }
  // dotAll: a line break in a path from the change must not step around a critical-area or migration glob.
  return new RegExp(`^${re}$`, 'is');
}

const escape = (s: string) => s.replace(/[.+^${}()|[\]\\*?]/g, '\\$&');

export function matchesAny(path: string, globs: readonly string[]): string | undefined {
  return globs.find((g) => globToRegExp(g).test(path));
}
