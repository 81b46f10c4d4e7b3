import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface JUnitSummary {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

export type JUnitParse = { ok: true; summary: JUnitSummary } | { ok: false; reason: string };

/**
 * Counts test cases in a JUnit XML document. Document type declarations are refused outright:
 * JUnit never needs them, and refusing them closes XXE and entity-expansion attacks.
 */
export function parseJUnit(xml: string): JUnitParse {
  if (xml.trim() === '') return { ok: false, reason: 'empty file' };
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) return { ok: false, reason: 'document type declarations are not allowed in JUnit XML' };
  const valid = XMLValidator.validate(xml);
  if (valid !== true) return { ok: false, reason: `not well-formed XML: ${valid.err.msg} (line ${valid.err.line})` };
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    processEntities: false,
    isArray: (name) => name === 'testsuite' || name === 'testcase',
  });
  const doc = parser.parse(xml) as Record<string, unknown>;
  const root = (doc.testsuites ?? doc) as Record<string, unknown>;
  const suites = collectSuites(root);
  if (!doc.testsuites && !doc.testsuite) return { ok: false, reason: 'no <testsuites> or <testsuite> element' };
  const summary: JUnitSummary = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  for (const suite of suites) {
    const cases = asArray(suite.testcase);
    if (cases.length > 0) {
      for (const tc of cases) {
        summary.tests++;
        if (tc.failure !== undefined) summary.failures++;
        else if (tc.error !== undefined) summary.errors++;
        else if (tc.skipped !== undefined) summary.skipped++;
      }
    } else {
      // Summary-only suites carry their counts as attributes.
      summary.tests += num(suite.tests);
      summary.failures += num(suite.failures);
      summary.errors += num(suite.errors);
      summary.skipped += num(suite.skipped ?? suite.disabled);
    }
  }
  return { ok: true, summary };
}

type Node = Record<string, unknown>;

function collectSuites(node: Node): Node[] {
  const out: Node[] = [];
  for (const suite of asArray(node.testsuite)) {
    out.push(suite);
    out.push(...collectSuites(suite)); // nested suites
  }
  return out;
}

const asArray = (v: unknown): Node[] => (Array.isArray(v) ? (v as Node[]) : v && typeof v === 'object' ? [v as Node] : []);
const num = (v: unknown): number => {
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : 0;
};
