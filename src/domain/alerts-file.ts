import { stringify } from 'yaml';
import type { AlertRules } from './alerts';

/**
 * The alerting rules file as rollgate writes it beside a record, from a release or from `decide`:
 * a header naming the release and how to check the file, then the rules. Apart from `alerts.ts`
 * so that the workflow bundle does not carry a YAML writer.
 */
export const alertRulesText = (rules: AlertRules, fileName: string): string =>
  `# Written by rollgate for ${rules.groups[0]?.name ?? 'a release'}; check with: promtool check rules ${fileName}\n${stringify(rules)}`;
