import type { Plan, PlanPolicy, PlanSource, PlanTable, PlanUnrecognized } from '@vibe/contracts';
import { FEATURES, UNSUPPORTED, type FeatureAddition } from './features.js';
import type { PlanInput, PlanOutcome, Planner } from './planner.js';
import { templateDefinition } from './templates/index.js';
import type { TemplateDefinition } from './templates/template.js';

/** A sentence of the vibe and the chunk (`spec_chunks.chunk_index`) it sits in. */
interface Sentence {
  chunk: number;
  text: string;
}

function sentencesOf(input: PlanInput): Sentence[] {
  return input.chunks.flatMap((chunk) =>
    chunk.content
      .split(/(?<=[.!?;])\s+/)
      .map((text) => text.trim())
      .filter((text) => text.length > 0)
      .map((text) => ({ chunk: chunk.index, text })),
  );
}

function excerpt(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function sourceFor(sentence: Sentence, match: string, what: string): PlanSource {
  return { chunk: sentence.chunk, reason: `${what}: "${match}" in "${excerpt(sentence.text)}"` };
}

/** The first sentence that mentions one of the words, and the word it used. */
function firstMention(sentences: Sentence[], pattern: RegExp): { sentence: Sentence; match: string } | null {
  for (const sentence of sentences) {
    const match = pattern.exec(sentence.text);
    if (match) return { sentence, match: match[0] };
  }
  return null;
}

/**
 * The rules planner: deterministic and offline. The template is the baseline; each feature the vibe asks
 * for (in the words of `FEATURES`) adds its tables, policies and buckets, and every item records the chunk
 * and sentence that caused it. Sentences that ask for something no rule covers are reported in
 * `unrecognized`, never dropped. The vibe's text never reaches the plan except as quoted reasons.
 */
export function planWithRules(input: PlanInput): Plan {
  const template = templateDefinition(input.template);
  const sentences = sentencesOf(input);
  const tables: PlanTable[] = template.tables.map((table) => traceBaseline(table, template, sentences));
  // A baseline policy is caused by the same sentence as its table.
  const policies: PlanPolicy[] = template.policies.map((policy) => {
    const chunk = tables.find((t) => t.name === policy.table)?.source.chunk ?? null;
    return { ...policy, source: { chunk, reason: policy.source.reason } };
  });
  const plan: Plan = {
    version: 2,
    template: template.name,
    planner: 'rules',
    tables,
    policies,
    buckets: [],
    edgeFunctions: [],
    analyticsViews: [],
    seed: null,
    options: { enableAnalytics: input.options.enableAnalytics, enableDriftSentinel: input.options.enableDriftSentinel },
    unrecognized: [],
  };

  const matched = new Set<Sentence>();
  const optionSources: { analytics: PlanSource | null; drift: PlanSource | null } = { analytics: null, drift: null };
  for (const feature of FEATURES) {
    const mention = firstMention(sentences, feature.pattern);
    if (!mention) continue;
    for (const sentence of sentences) if (feature.pattern.test(sentence.text)) matched.add(sentence);
    const source = sourceFor(mention.sentence, mention.match, feature.key);
    merge(plan, feature.apply(template, source));
    if (feature.key === 'analytics') optionSources.analytics = source;
    if (feature.key === 'drift') optionSources.drift = source;
  }

  const optionSource = (from: PlanSource | null, option: string): PlanSource =>
    from ?? { chunk: null, reason: `options.${option} is true` };
  plan.edgeFunctions.push({
    slug: 'drift_check',
    verifyJwt: true,
    source: optionSource(optionSources.drift, 'enableDriftSentinel'),
  });
  if (plan.options.enableAnalytics) {
    const source = optionSource(optionSources.analytics, 'enableAnalytics');
    plan.analyticsViews.push({ ...template.analyticsView, source });
    plan.edgeFunctions.push({ slug: 'analytics_query', verifyJwt: true, source });
    // Demo rows so that the analytics query returns rows in the preview.
    plan.seed = template.seed;
  }

  for (const sentence of sentences) {
    if (matched.has(sentence)) continue;
    const unsupported = UNSUPPORTED.find((u) => u.pattern.test(sentence.text));
    if (unsupported) {
      plan.unrecognized.push(unrecognized(sentence, unsupported.note));
    } else if (!template.coreWords.test(sentence.text)) {
      plan.unrecognized.push(unrecognized(sentence, 'no rule of the planner covers this; nothing was planned for it'));
    }
  }
  return plan;
}

function unrecognized(sentence: Sentence, note: string): PlanUnrecognized {
  return { chunk: sentence.chunk, text: excerpt(sentence.text, 400), note };
}

/** A baseline table traced to the first sentence that asks for it, if any. */
function traceBaseline(table: PlanTable, template: TemplateDefinition, sentences: Sentence[]): PlanTable {
  const words = template.keywords[table.name];
  const mention = words ? firstMention(sentences, words) : null;
  return mention
    ? { ...table, source: sourceFor(mention.sentence, mention.match, `${template.name} ${table.name}`) }
    : table;
}

function merge(plan: Plan, addition: FeatureAddition): void {
  for (const table of addition.tables ?? []) {
    if (!plan.tables.some((t) => t.name === table.name)) plan.tables.push(table);
  }
  plan.policies.push(...(addition.policies ?? []));
  for (const bucket of addition.buckets ?? []) {
    if (!plan.buckets.some((b) => b.id === bucket.id)) plan.buckets.push(bucket);
  }
  if (addition.enableAnalytics) plan.options.enableAnalytics = true;
  if (addition.enableDriftSentinel) plan.options.enableDriftSentinel = true;
}

export class RulesPlanner implements Planner {
  async plan(input: PlanInput): Promise<PlanOutcome> {
    return { plan: planWithRules(input), fallback: null };
  }
}
