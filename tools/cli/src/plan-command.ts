import type { Plan, Template } from '@vibe/contracts';
import { allMigrations, chunkVibe, planWithRules, renderPlan } from '@vibe/planning';

export interface PlanCommandOptions {
  vibeText: string;
  template: Template;
  enableAnalytics: boolean;
  json: boolean;
  out: (line: string) => void;
}

/** Prints the plan the rules planner makes for a vibe, and the SQL it renders to; provisions nothing. */
export function runPlan(options: PlanCommandOptions): number {
  const chunks = chunkVibe(options.vibeText);
  const plan = planWithRules({
    vibeText: options.vibeText,
    chunks,
    template: options.template,
    options: { enableAnalytics: options.enableAnalytics, enableDriftSentinel: false },
  });
  const rendered = renderPlan(plan);
  const migrations = allMigrations(rendered);
  if (options.json) {
    options.out(JSON.stringify({ chunks, plan, migrations }, null, 2));
    return 0;
  }
  for (const line of describePlan(plan)) options.out(line);
  options.out('');
  for (const migration of migrations) {
    options.out(`-- migration: ${migration.name}`);
    options.out(migration.query);
    options.out('');
  }
  return 0;
}

export function describePlan(plan: Plan): string[] {
  const where = (source: { chunk: number | null; reason: string }) =>
    source.chunk === null ? source.reason : `chunk ${source.chunk}: ${source.reason}`;
  const lines = [`Plan (${plan.template} template, ${plan.planner} planner)`, 'Tables:'];
  for (const table of plan.tables) lines.push(`  ${table.name.padEnd(22)} ${where(table.source)}`);
  lines.push('Policies:');
  for (const policy of plan.policies)
    lines.push(`  ${policy.table.padEnd(22)} ${policy.kind.padEnd(20)} ${where(policy.source)}`);
  if (plan.buckets.length) {
    lines.push('Buckets:');
    for (const bucket of plan.buckets)
      lines.push(`  ${bucket.id.padEnd(22)} private, owner folders  ${where(bucket.source)}`);
  }
  lines.push(`Analytics: ${plan.options.enableAnalytics ? plan.analyticsViews.map((v) => v.name).join(', ') : 'off'}`);
  lines.push(`Drift sentinel: ${plan.options.enableDriftSentinel ? 'on' : 'off'}`);
  for (const item of plan.unrecognized)
    lines.push(`Not planned (chunk ${item.chunk ?? '-'}): "${item.text}" — ${item.note}`);
  return lines;
}
