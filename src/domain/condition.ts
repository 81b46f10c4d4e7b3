/**
 * Success and failure conditions of a metric: small arithmetic and boolean expressions over the
 * measured `result` and, where a check compares, the `baseline` captured before the release or the
 * `stable` value measured at the same time. Parsed once when the config is read, never eval'd.
 *
 *   result >= 0.99            result > baseline * 1.10            result - stable > 0.02 && result > 0.01
 */

export const CONDITION_VARIABLES = ['result', 'baseline', 'stable'] as const;
export type ConditionVariable = (typeof CONDITION_VARIABLES)[number];
export type ConditionScope = Partial<Record<ConditionVariable, number>>;

type Node =
  | { k: 'num'; v: number }
  | { k: 'var'; name: ConditionVariable }
  | { k: 'not'; e: Node }
  | { k: 'neg'; e: Node }
  | { k: 'bin'; op: string; l: Node; r: Node };

export interface Condition {
  source: string;
  variables: ConditionVariable[];
  test(scope: ConditionScope): boolean;
  /** Constants that `result` is compared with directly (`result > 0.05` gives 0.05): lines for a chart. */
  thresholds: number[];
  /** The same check as PromQL, for alerting rules; undefined where PromQL has no equivalent (`!`). */
  toPromQL(refs: { result: string; stable?: string; baseline?: number }): string | undefined;
}

const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([A-Za-z_]\w*)|(&&|\|\||>=|<=|==|!=|[-+*/()<>!]))/y;

export function parseCondition(source: string): Condition {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < source.length) {
    if (/^\s*$/.test(source.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(source);
    if (!m) throw new Error(`unexpected "${source.slice(pos).trim()[0]}" at position ${pos + 1}`);
    const word = m[2];
    tokens.push(word === 'and' ? '&&' : word === 'or' ? '||' : word === 'not' ? '!' : m[1] ?? m[2] ?? m[3]!);
    pos = TOKEN.lastIndex;
  }
  let i = 0;
  const peek = () => tokens[i];
  const take = () => tokens[i++];
  const used = new Set<ConditionVariable>();

  const binary = (next: () => Node, ops: string[]) => (): Node => {
    let l = next();
    while (ops.includes(peek() ?? '')) {
      const op = take()!;
      l = { k: 'bin', op, l, r: next() };
    }
    return l;
  };
  const primary = (): Node => {
    const t = take();
    if (t === undefined) throw new Error('the expression ends too early');
    if (t === '(') {
      const e = or();
      if (take() !== ')') throw new Error('a ")" is missing');
      return e;
    }
    if (t === '-') return { k: 'neg', e: primary() };
    if (t === '!') return { k: 'not', e: comparison() };
    if (/^\d/.test(t)) return { k: 'num', v: Number(t) };
    if ((CONDITION_VARIABLES as readonly string[]).includes(t)) {
      used.add(t as ConditionVariable);
      return { k: 'var', name: t as ConditionVariable };
    }
    if (/^[A-Za-z_]/.test(t)) throw new Error(`unknown name "${t}" (use ${CONDITION_VARIABLES.join(', ')})`);
    throw new Error(`unexpected "${t}"`);
  };
  const product = binary(primary, ['*', '/']);
  const sum = binary(product, ['+', '-']);
  const comparison = (): Node => {
    const l = sum();
    if (['<', '<=', '>', '>=', '==', '!='].includes(peek() ?? '')) return { k: 'bin', op: take()!, l, r: sum() };
    return l;
  };
  const and = binary(comparison, ['&&']);
  const or: () => Node = binary(and, ['||']);

  const tree = or();
  if (i < tokens.length) throw new Error(`unexpected "${tokens[i]}"`);
  if (!isBoolean(tree)) throw new Error('must compare, e.g. "result < 0.05"');
  if (!used.has('result')) throw new Error('must use result');
  const variables = [...used];
  return { source, variables, thresholds: thresholds(tree), test: (scope) => Boolean(evaluate(tree, scope)), toPromQL: (refs) => promql(tree, refs) };
}

function thresholds(n: Node): number[] {
  if (n.k === 'not' || n.k === 'neg') return thresholds(n.e);
  if (n.k !== 'bin') return [];
  if (['<', '<=', '>', '>=', '==', '!='].includes(n.op)) {
    if (n.l.k === 'var' && n.l.name === 'result' && n.r.k === 'num') return [n.r.v];
    if (n.r.k === 'var' && n.r.name === 'result' && n.l.k === 'num') return [n.l.v];
    return [];
  }
  return [...thresholds(n.l), ...thresholds(n.r)];
}

/** Comparisons become PromQL filters, && and || become `and` and `or`; a reference without a value gives up. */
function promql(n: Node, refs: { result: string; stable?: string; baseline?: number }): string | undefined {
  switch (n.k) {
    case 'num':
      return String(n.v);
    case 'var':
      return n.name === 'result' ? `(${refs.result})` : n.name === 'stable' ? (refs.stable ? `(${refs.stable})` : undefined) : refs.baseline !== undefined ? String(refs.baseline) : undefined;
    case 'neg': {
      const e = promql(n.e, refs);
      return e === undefined ? undefined : `-${e}`;
    }
    case 'not':
      return undefined;
    case 'bin': {
      const l = promql(n.l, refs);
      const r = promql(n.r, refs);
      if (l === undefined || r === undefined) return undefined;
      const op = n.op === '&&' ? 'and' : n.op === '||' ? 'or' : n.op;
      return `(${l} ${op} ${r})`;
    }
  }
}

function isBoolean(n: Node): boolean {
  if (n.k === 'not') return true;
  if (n.k === 'bin') return ['<', '<=', '>', '>=', '==', '!=', '&&', '||'].includes(n.op);
  return false;
}

function evaluate(n: Node, scope: ConditionScope): number | boolean {
  switch (n.k) {
    case 'num':
      return n.v;
    case 'var': {
      const v = scope[n.name];
      if (v === undefined) throw new Error(`${n.name} is not known`);
      return v;
    }
    case 'neg':
      return -Number(evaluate(n.e, scope));
    case 'not':
      return !evaluate(n.e, scope);
    case 'bin': {
      if (n.op === '&&') return Boolean(evaluate(n.l, scope)) && Boolean(evaluate(n.r, scope));
      if (n.op === '||') return Boolean(evaluate(n.l, scope)) || Boolean(evaluate(n.r, scope));
      const l = Number(evaluate(n.l, scope));
      const r = Number(evaluate(n.r, scope));
      switch (n.op) {
        case '+': return l + r;
        case '-': return l - r;
        case '*': return l * r;
        case '/': return l / r;
        case '<': return l < r;
        case '<=': return l <= r;
        case '>': return l > r;
        case '>=': return l >= r;
        case '==': return l === r;
        default: return l !== r;
      }
    }
  }
}
