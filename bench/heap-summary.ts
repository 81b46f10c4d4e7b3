/**
 * Where a heap snapshot's memory is:
 *   node --max-old-space-size=8192 --import tsx bench/heap-summary.ts FILE.heapsnapshot [--top N] [--json] [--inside CLASS] [--holders CLASS]
 *
 * Builds the dominator tree (Cooper, Harvey and Kennedy's iterative algorithm over the strong
 * edges, as Chrome's DevTools does) and prints
 * - the heap's size by node type (objects, code, strings, closures, ...);
 * - classes (constructor or function names; code and strings by type) by the size they retain
 *   together (a node counted once even when several of its class dominate each other) and by
 *   their own size, with their counts;
 * - the single nodes that retain the most, with the chain of dominators above them;
 * - vm contexts (native contexts) and the workflow activators they hold, the SDK's per-workflow
 *   state;
 * - with --inside CLASS: what the largest node of that class retains, by class (for example
 *   ReusableVMWorkflow, one cached workflow);
 * - with --holders CLASS: the edges that hold the nodes of that class, by the holder's class and
 *   the edge's name (for example Timeout: who keeps timers alive).
 */
import { readFileSync } from 'node:fs';

type Snapshot = {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
};

const args = process.argv.slice(2);
const file = args.find((a, i) => !a.startsWith('--') && !['--top', '--inside', '--holders'].includes(args[i - 1] ?? ''));
if (!file) {
  process.stderr.write('usage: bench/heap-summary.ts FILE.heapsnapshot [--top N] [--json]\n');
  process.exit(2);
}
const topIndex = args.indexOf('--top');
const TOP = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
const asJson = args.includes('--json');
const option = (flag: string) => (args.indexOf(flag) >= 0 ? args[args.indexOf(flag) + 1] : undefined);
const INSIDE = option('--inside');
const HOLDERS = option('--holders');

const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const { meta } = s.snapshot;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nType = meta.node_fields.indexOf('type');
const nName = meta.node_fields.indexOf('name');
const nSelf = meta.node_fields.indexOf('self_size');
const nEdges = meta.node_fields.indexOf('edge_count');
const eType = meta.edge_fields.indexOf('type');
const eName = meta.edge_fields.indexOf('name_or_index');
const eTo = meta.edge_fields.indexOf('to_node');
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const N = s.nodes.length / NF;
const WEAK = edgeTypes.indexOf('weak');
const SHORTCUT = edgeTypes.indexOf('shortcut');
const ELEMENT = edgeTypes.indexOf('element');
const HIDDEN = edgeTypes.indexOf('hidden');

const type = (i: number) => nodeTypes[s.nodes[i * NF + nType]!]!;
const name = (i: number) => s.strings[s.nodes[i * NF + nName]!]!;
const self = (i: number) => s.nodes[i * NF + nSelf]!;
const firstEdge = new Uint32Array(N + 1);
for (let i = 0, e = 0; i < N; i++) {
  firstEdge[i] = e;
  e += s.nodes[i * NF + nEdges]! * 1;
  firstEdge[i + 1] = e;
}
const edgeTo = (e: number) => s.edges[e * EF + eTo]! / NF;
const edgeType = (e: number) => s.edges[e * EF + eType]!;
const edgeName = (e: number) => {
  const t = edgeType(e);
  const v = s.edges[e * EF + eName]!;
  return t === ELEMENT || t === HIDDEN ? `[${v}]` : s.strings[v]!;
};
const essential = (from: number, e: number) => edgeType(e) !== WEAK && !(from === 0 && edgeType(e) === SHORTCUT);

/** The class a node counts under: constructors and functions by name, the rest by type. */
function className(i: number): string {
  const t = type(i);
  if (name(i).startsWith('system / ')) return `(${name(i).split(' / ').slice(0, 2).join(' / ')})`;
  if (t === 'object' || t === 'closure' || t === 'native') return `${name(i).split(' ')[0] || '(anonymous)'}${t === 'closure' ? '()' : ''}`;
  if (t === 'hidden' || t === 'synthetic') return `(${name(i).slice(0, 40)})`;
  return `(${t})`;
}

// Post order of a depth-first walk over strong edges from the root.
const postIndex = new Int32Array(N).fill(-1);
const postOrder = new Int32Array(N);
let count = 0;
{
  const stack = new Int32Array(N);
  const edgeAt = new Uint32Array(N);
  const seen = new Uint8Array(N);
  let top = 0;
  stack[0] = 0;
  edgeAt[0] = firstEdge[0]!;
  seen[0] = 1;
  while (top >= 0) {
    const v = stack[top]!;
    if (edgeAt[top]! < firstEdge[v + 1]!) {
      const e = edgeAt[top]!;
      edgeAt[top] = e + 1;
      if (!essential(v, e)) continue;
      const w = edgeTo(e);
      if (seen[w]) continue;
      seen[w] = 1;
      top += 1;
      stack[top] = w;
      edgeAt[top] = firstEdge[w]!;
    } else {
      postIndex[v] = count;
      postOrder[count++] = v;
      top -= 1;
    }
  }
}

// Predecessors (by post index) over strong edges.
const predCount = new Uint32Array(count + 1);
for (let v = 0; v < N; v++) {
  if (postIndex[v]! < 0) continue;
  for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e++) if (essential(v, e) && postIndex[edgeTo(e)]! >= 0) predCount[postIndex[edgeTo(e)]! + 1]! += 1;
}
for (let i = 1; i <= count; i++) predCount[i]! += predCount[i - 1]!;
const preds = new Int32Array(predCount[count]!);
{
  const fill = predCount.slice(0, count);
  for (let v = 0; v < N; v++) {
    if (postIndex[v]! < 0) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e++) {
      const w = postIndex[edgeTo(e)]!;
      if (essential(v, e) && w >= 0) preds[fill[w]!++] = postIndex[v]!;
    }
  }
}

// Immediate dominators by post index (the root is count - 1).
const root = count - 1;
const idom = new Int32Array(count).fill(-1);
idom[root] = root;
for (let changed = true; changed; ) {
  changed = false;
  for (let b = root - 1; b >= 0; b--) {
    let next = -1;
    for (let k = predCount[b]!; k < predCount[b + 1]!; k++) {
      let p = preds[k]!;
      if (idom[p] === -1) continue;
      if (next === -1) {
        next = p;
        continue;
      }
      let q = next;
      while (p !== q) {
        while (p < q) p = idom[p]!;
        while (q < p) q = idom[q]!;
      }
      next = p;
    }
    if (next !== -1 && idom[b] !== next) {
      idom[b] = next;
      changed = true;
    }
  }
}

// Retained sizes: a node comes before its dominator in post order.
const retained = new Float64Array(count);
for (let b = 0; b < count; b++) retained[b]! += self(postOrder[b]!);
for (let b = 0; b < root; b++) if (idom[b]! >= 0) retained[idom[b]!]! += retained[b]!;

// Classes: own size and count, and what they retain together (outermost members only).
const classes = new Map<string, { self: number; count: number; retained: number }>();
const classOf = new Array<string>(count);
for (let b = 0; b < count; b++) {
  const c = (classOf[b] = className(postOrder[b]!));
  const entry = classes.get(c) ?? { self: 0, count: 0, retained: 0 };
  entry.self += self(postOrder[b]!);
  entry.count += 1;
  classes.set(c, entry);
}
{
  // Children lists of the dominator tree, then a walk from the root that counts a class's
  // retained size at its outermost member only.
  const childStart = new Uint32Array(count + 1);
  for (let b = 0; b < root; b++) if (idom[b]! >= 0) childStart[idom[b]! + 1]! += 1;
  for (let i = 1; i <= count; i++) childStart[i]! += childStart[i - 1]!;
  const children = new Int32Array(childStart[count]!);
  const fill = childStart.slice(0, count);
  for (let b = 0; b < root; b++) if (idom[b]! >= 0) children[fill[idom[b]!]!++] = b;
  const active = new Map<string, number>();
  const stack: number[] = [root];
  const exiting: boolean[] = [false];
  while (stack.length) {
    const b = stack.pop()!;
    const exit = exiting.pop()!;
    const c = classOf[b]!;
    if (exit) {
      active.set(c, active.get(c)! - 1);
      continue;
    }
    if (!active.get(c)) classes.get(c)!.retained += retained[b]!;
    active.set(c, (active.get(c) ?? 0) + 1);
    stack.push(b);
    exiting.push(true);
    for (let k = childStart[b]!; k < childStart[b + 1]!; k++) {
      stack.push(children[k]!);
      exiting.push(false);
    }
  }
}

const MiB = (bytes: number) => Math.round((bytes / 2 ** 20) * 100) / 100;
const total = retained[root]!;
const byType = new Map<string, number>();
for (let b = 0; b < count; b++) byType.set(type(postOrder[b]!), (byType.get(type(postOrder[b]!)) ?? 0) + self(postOrder[b]!));

const chain = (b: number) => {
  const names: string[] = [];
  for (let d = idom[b]!; d !== root && names.length < 6; d = idom[d]!) names.push(classOf[d]!);
  return names.join(' < ');
};
const topNodes = Array.from({ length: root }, (_, b) => b)
  .filter((b) => type(postOrder[b]!) !== 'synthetic')
  .sort((a, b) => retained[b]! - retained[a]!)
  .slice(0, TOP)
  .map((b) => ({ node: `${classOf[b]}${type(postOrder[b]!) === 'string' ? ` "${name(postOrder[b]!).slice(0, 30)}"` : ''}`, retainedMiB: MiB(retained[b]!), selfMiB: MiB(self(postOrder[b]!)), dominatedBy: chain(b) }));

// The SDK's per-workflow state: one Activator per workflow in the workflow thread.
const activators = Array.from({ length: root }, (_, b) => b).filter((b) => classOf[b] === 'Activator');
const nativeContexts = Array.from({ length: root }, (_, b) => b).filter((b) => name(postOrder[b]!).startsWith('system / NativeContext'));
const perActivator = activators.map((b) => retained[b]!);

// What hangs off one Activator: its edges, by retained size, for the largest one.
const activatorParts = (() => {
  if (!activators.length) return [];
  const b = activators.reduce((x, y) => (retained[x]! >= retained[y]! ? x : y));
  const v = postOrder[b]!;
  const parts: { edge: string; node: string; retainedMiB: number; dominatedByActivator: boolean }[] = [];
  for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e++) {
    const w = postIndex[edgeTo(e)]!;
    if (w < 0) continue;
    parts.push({ edge: edgeName(e), node: classOf[w]!, retainedMiB: MiB(retained[w]!), dominatedByActivator: idom[w] === b });
  }
  return parts.sort((x, y) => y.retainedMiB - x.retainedMiB).slice(0, 15);
})();

/** What one node retains, by class: the subtree it dominates. */
const inside = (() => {
  if (!INSIDE) return undefined;
  const members = Array.from({ length: root }, (_, b) => b).filter((b) => classOf[b] === INSIDE);
  if (!members.length) return { class: INSIDE, count: 0, parts: [] };
  const top = members.reduce((x, y) => (retained[x]! >= retained[y]! ? x : y));
  const within = new Map<string, { count: number; self: number }>();
  // b is inside top when top is on its dominator chain; a node comes before its dominators in post order.
  const isInside = new Uint8Array(count);
  isInside[top] = 1;
  for (let b = top - 1; b >= 0; b--) if (idom[b]! >= 0 && idom[b]! <= top && isInside[idom[b]!]) isInside[b] = 1;
  for (let b = 0; b <= top; b++) {
    if (!isInside[b]) continue;
    const e = within.get(classOf[b]!) ?? { count: 0, self: 0 };
    e.count += 1;
    e.self += self(postOrder[b]!);
    within.set(classOf[b]!, e);
  }
  return {
    class: INSIDE,
    count: members.length,
    largestRetainedMiB: MiB(retained[top]!),
    parts: [...within].sort((a, b) => b[1].self - a[1].self).slice(0, TOP).map(([c, v]) => ({ class: c, count: v.count, selfKiB: Math.round(v.self / 102.4) / 10 })),
  };
})();

/** Who holds the nodes of a class: incoming edges by the holder's class and the edge name. */
const holders = (() => {
  if (!HOLDERS) return undefined;
  const byEdge = new Map<string, number>();
  for (let v = 0; v < N; v++) {
    const from = postIndex[v]!;
    if (from < 0) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e++) {
      const w = postIndex[edgeTo(e)]!;
      if (w < 0 || classOf[w] !== HOLDERS) continue;
      const key = `${classOf[from]}${edgeType(e) === WEAK ? ' (weak)' : ''} .${edgeName(e).replace(/^\[\d+\]$/, '[i]')}`;
      byEdge.set(key, (byEdge.get(key) ?? 0) + 1);
    }
  }
  return { class: HOLDERS, edges: [...byEdge].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([edge, n]) => ({ edge, count: n })) };
})();

const summary = {
  file,
  nodes: N,
  reachable: count,
  totalMiB: MiB(total),
  byTypeMiB: Object.fromEntries([...byType].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, MiB(v)])),
  classesByRetained: [...classes]
    .sort((a, b) => b[1].retained - a[1].retained)
    .slice(0, TOP)
    .map(([c, v]) => ({ class: c, count: v.count, retainedMiB: MiB(v.retained), selfMiB: MiB(v.self) })),
  classesBySelf: [...classes]
    .sort((a, b) => b[1].self - a[1].self)
    .slice(0, TOP)
    .map(([c, v]) => ({ class: c, count: v.count, selfMiB: MiB(v.self) })),
  topNodes,
  nativeContexts: nativeContexts.length,
  nativeContextRetainedMiB: nativeContexts.map((b) => MiB(retained[b]!)).sort((a, b) => b - a).slice(0, 10),
  activators: {
    count: activators.length,
    retainedMiB: MiB(perActivator.reduce((a, b) => a + b, 0)),
    medianEachMiB: perActivator.length ? MiB([...perActivator].sort((a, b) => a - b)[Math.floor(perActivator.length / 2)]!) : 0,
    largestParts: activatorParts,
  },
  ...(inside ? { inside } : {}),
  ...(holders ? { holders } : {}),
};

if (asJson) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
else {
  const table = (rows: Record<string, unknown>[]) => {
    if (!rows.length) return '(none)\n';
    const keys = Object.keys(rows[0]!);
    return [keys.join(' | '), ...rows.map((r) => keys.map((k) => String(r[k])).join(' | '))].join('\n') + '\n';
  };
  process.stdout.write(
    [
      `${file}: ${N} nodes (${count} reachable), ${summary.totalMiB} MiB`,
      `by type (MiB): ${Object.entries(summary.byTypeMiB).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      `native contexts: ${summary.nativeContexts} (largest retain ${summary.nativeContextRetainedMiB.join(', ')} MiB)`,
      `workflow activators: ${summary.activators.count}, retaining ${summary.activators.retainedMiB} MiB (median ${summary.activators.medianEachMiB} MiB each)`,
      '',
      'classes by retained size:',
      table(summary.classesByRetained),
      'classes by own size:',
      table(summary.classesBySelf),
      'nodes that retain the most:',
      table(summary.topNodes),
      'the largest activator, by edge:',
      table(summary.activators.largestParts),
      ...(inside ? [`inside the largest ${inside.class} (${inside.count} of them; ${inside.largestRetainedMiB ?? 0} MiB), by class:`, table(inside.parts)] : []),
      ...(holders ? [`what holds the ${holders.class} nodes:`, table(holders.edges)] : []),
    ].join('\n'),
  );
}
