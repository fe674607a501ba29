import {
  accessCellName,
  type AccessCellResult,
  type AdvisorLint,
  type BuildVerification,
  type LivePolicy,
  type NormalizedPolicy,
  type PlannedPolicy,
  type PolicyCheck,
  type VerificationLint,
} from '@vibe/contracts';
import { diffSchema, type SchemaShape } from './expected-schema.js';

/**
 * The verification report of a build (issue 5): the pieces the orchestrator read through the provisioner,
 * compared with what the plan asks for, and one line per failure. Pure.
 */

/**
 * The live policies against the plan's: each planned policy present with the same command, roles, permissive
 * mode and expressions (the planned expressions as Postgres printed them in the same transaction as the live
 * ones, so spelling cannot differ, only meaning), and no live policy on a planned table that the plan lacks.
 */
export function comparePolicies(
  planned: readonly PlannedPolicy[],
  normalized: readonly NormalizedPolicy[],
  live: readonly LivePolicy[],
): PolicyCheck[] {
  const key = (p: { schema: string; table: string; name: string }) => `${p.schema}.${p.table}.${p.name}`;
  const liveByKey = new Map(live.map((p) => [key(p), p]));
  const normalizedByKey = new Map(normalized.map((p) => [key(p), p]));
  const checks: PolicyCheck[] = planned.map((policy) => {
    const table = `${policy.schema}.${policy.table}`;
    const found = liveByKey.get(key(policy));
    if (!found) return { table, name: policy.name, status: 'missing', detail: null };
    const expected = normalizedByKey.get(key(policy));
    const differences: string[] = [];
    if (found.command !== policy.command) differences.push(`command ${found.command}, planned ${policy.command}`);
    const roles = [...found.roles].sort().join(', ');
    const plannedRoles = [...policy.roles].sort().join(', ');
    if (roles !== plannedRoles) differences.push(`roles ${roles}, planned ${plannedRoles}`);
    if (!found.permissive) differences.push('restrictive, planned permissive');
    if (!expected || expected.error !== undefined) {
      differences.push(`its planned expressions could not be read back${expected?.error ? `: ${expected.error}` : ''}`);
    } else {
      if (found.using !== expected.using)
        differences.push(`using ${found.using ?? 'none'}, planned ${expected.using ?? 'none'}`);
      if (found.withCheck !== expected.withCheck)
        differences.push(`with check ${found.withCheck ?? 'none'}, planned ${expected.withCheck ?? 'none'}`);
    }
    return differences.length
      ? { table, name: policy.name, status: 'different', detail: differences.join('; ') }
      : { table, name: policy.name, status: 'as_planned', detail: null };
  });
  const plannedKeys = new Set(planned.map(key));
  for (const policy of live) {
    if (plannedKeys.has(key(policy))) continue;
    checks.push({
      table: `${policy.schema}.${policy.table}`,
      name: policy.name,
      status: 'unexpected',
      detail: `${policy.permissive ? 'permissive' : 'restrictive'} ${policy.command} to ${policy.roles.join(', ')} using ${policy.using ?? 'none'} with check ${policy.withCheck ?? 'none'}`,
    });
  }
  return checks;
}

function lintOf(lint: AdvisorLint): VerificationLint {
  const schema = typeof lint.metadata.schema === 'string' ? lint.metadata.schema : '?';
  const name = typeof lint.metadata.name === 'string' ? lint.metadata.name : '?';
  return { name: lint.name, level: lint.level, object: `${schema}.${name}`, detail: lint.detail };
}

export interface VerificationInput {
  expectedSchema: SchemaShape;
  actualSchema: SchemaShape;
  planned: readonly PlannedPolicy[];
  policies: { live: readonly LivePolicy[]; planned: readonly NormalizedPolicy[] };
  cells: readonly AccessCellResult[];
  /** The security advisor's lints. */
  lints: readonly AdvisorLint[];
  durationMs: number;
}

/** The report: passed when nothing differs, no cell surprised and no lint is an ERROR. */
export function verificationReport(input: VerificationInput): BuildVerification {
  const differences = diffSchema(input.expectedSchema, input.actualSchema);
  const policies = comparePolicies(input.planned, input.policies.planned, input.policies.live);
  const failedCells = input.cells.filter((cell) => cell.actual !== cell.expected);
  const lints = input.lints.map(lintOf);
  const errors = lints.filter((lint) => lint.level === 'ERROR');
  const failures = [
    ...failedCells.map(
      (cell) =>
        `cell ${accessCellName(cell)}: expected ${cell.expected}, got ${cell.actual}` +
        (cell.detail ? ` (${cell.detail})` : ''),
    ),
    ...errors.map((lint) => `ERROR lint ${lint.name} on ${lint.object}`),
    ...policies
      .filter((check) => check.status !== 'as_planned')
      .map(
        (check) =>
          `policy ${check.name} on ${check.table} is ${check.status}` + (check.detail ? `: ${check.detail}` : ''),
      ),
    ...differences.map((difference) => `schema: ${difference}`),
  ];
  return {
    passed: failures.length === 0,
    failures,
    schema: { tables: input.actualSchema.tables.map((table) => table.name), differences },
    rls: input.actualSchema.tables.map((table) => ({ table: `public.${table.name}`, enabled: table.rlsEnabled })),
    policies,
    matrix: { cells: [...input.cells], failed: failedCells.map(accessCellName) },
    lints: {
      errors,
      warnings: lints.filter((lint) => lint.level === 'WARN'),
      info: lints.filter((lint) => lint.level === 'INFO').length,
    },
    durationMs: input.durationMs,
  };
}

/** The build's error for a failed verification: how many failures, and the first ones, cells first. */
export function verificationFailureMessage(verification: BuildVerification, shown = 8): string {
  const { failures } = verification;
  const more = failures.length > shown ? `; and ${failures.length - shown} more` : '';
  return `the environment failed verification (${failures.length} failure(s)): ${failures.slice(0, shown).join('; ')}${more}`;
}
