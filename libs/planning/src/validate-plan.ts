import type { Plan, PlanColumn, PlanPolicy, PlanTable } from '@vibe/contracts';

/** Organization policy kinds need these tables, with these columns (the helpers query them). */
export const ORG_TABLES = { organizations: ['id'], memberships: ['org_id', 'user_id', 'role'] } as const;

/**
 * Semantic checks a schema cannot express: every name a plan uses exists, with the right type; foreign keys
 * form no cycle; seeds point at rows that exist. Returns the problems, each naming what is wrong; an
 * empty list means the plan can be rendered.
 */
export function validatePlan(plan: Plan): string[] {
  const problems: string[] = [];
  const tables = new Map<string, PlanTable>();
  for (const table of plan.tables) {
    if (tables.has(table.name)) problems.push(`table ${table.name} is planned twice`);
    tables.set(table.name, table);
  }
  const columnOf = (table: string, name: string): PlanColumn | undefined =>
    tables.get(table)?.columns.find((c) => c.name === name);

  for (const table of plan.tables) {
    const names = new Set<string>();
    for (const c of table.columns) {
      if (names.has(c.name)) problems.push(`${table.name}.${c.name} is declared twice`);
      names.add(c.name);
    }
    const keys = table.columns.filter((c) => c.primaryKey);
    if (keys.length !== 1) problems.push(`${table.name} needs exactly one primary key column, has ${keys.length}`);
    if (table.touchUpdatedAt && columnOf(table.name, 'updated_at')?.type !== 'timestamptz') {
      problems.push(`${table.name} keeps updated_at current but has no updated_at timestamptz column`);
    }
    for (const c of table.columns) {
      const ref = c.references;
      if (!ref) continue;
      if (c.type !== 'uuid') problems.push(`${table.name}.${c.name} references ${ref.table} but is not a uuid`);
      if (ref.schema === 'auth') {
        if (ref.table !== 'users' || ref.column !== 'id')
          problems.push(`${table.name}.${c.name} may reference only auth.users(id) in auth`);
        continue;
      }
      const target = columnOf(ref.table, ref.column);
      if (!tables.has(ref.table))
        problems.push(`${table.name}.${c.name} references ${ref.table}, which is not planned`);
      else if (!target)
        problems.push(`${table.name}.${c.name} references ${ref.table}.${ref.column}, which is not planned`);
      else if (!target.primaryKey && !target.unique) {
        problems.push(
          `${table.name}.${c.name} references ${ref.table}.${ref.column}, which is neither primary key nor unique`,
        );
      }
      if (ref.table === table.name) problems.push(`${table.name}.${c.name} references its own table`);
    }
    for (const index of table.indexes) {
      for (const name of index.columns) {
        if (!columnOf(table.name, name))
          problems.push(`an index of ${table.name} names column ${name}, which is not planned`);
      }
    }
  }
  if (problems.length === 0 && tableOrder(plan.tables) === null)
    problems.push('the foreign keys between tables form a cycle');

  const needUuid = (policy: PlanPolicy, table: string, name: string, role: string) => {
    const c = columnOf(table, name);
    if (!c) problems.push(`policy ${policy.kind} on ${policy.table}: ${role} ${table}.${name} is not planned`);
    else if (c.type !== 'uuid')
      problems.push(`policy ${policy.kind} on ${policy.table}: ${role} ${table}.${name} must be a uuid`);
  };
  let usesOrgs = false;
  for (const policy of plan.policies) {
    if (!tables.has(policy.table)) {
      problems.push(`policy ${policy.kind} is on table ${policy.table}, which is not planned`);
      continue;
    }
    switch (policy.kind) {
      case 'public_read':
        if (policy.where && columnOf(policy.table, policy.where.column)?.type !== 'text') {
          problems.push(
            `policy public_read on ${policy.table}: filter column ${policy.where.column} must be a planned text column`,
          );
        }
        if (policy.ownerColumn) needUuid(policy, policy.table, policy.ownerColumn, 'owner column');
        break;
      case 'owner_read':
      case 'owner_write':
        needUuid(policy, policy.table, policy.ownerColumn, 'owner column');
        break;
      case 'participant_read':
        for (const c of policy.participantColumns) needUuid(policy, policy.table, c, 'participant column');
        break;
      case 'parent_owner_read':
      case 'parent_owner_write':
        needUuid(policy, policy.table, policy.parentColumn, 'parent column');
        if (!tables.has(policy.parentTable))
          problems.push(`policy ${policy.kind} on ${policy.table}: parent table ${policy.parentTable} is not planned`);
        else needUuid(policy, policy.parentTable, policy.parentOwnerColumn, 'parent owner column');
        break;
      case 'org_member_read':
      case 'org_admin_write':
        usesOrgs = true;
        needUuid(policy, policy.table, policy.orgColumn, 'organization column');
        break;
      case 'org_member_insert':
        usesOrgs = true;
        needUuid(policy, policy.table, policy.orgColumn, 'organization column');
        if (policy.ownerColumn) needUuid(policy, policy.table, policy.ownerColumn, 'owner column');
        break;
      default: {
        const unknown: never = policy;
        problems.push(`unknown policy kind ${JSON.stringify(unknown)}`);
      }
    }
  }
  if (usesOrgs) {
    for (const [table, columns] of Object.entries(ORG_TABLES)) {
      for (const name of columns) {
        if (!columnOf(table, name)) problems.push(`organization policies need ${table}.${name}, which is not planned`);
      }
    }
  }

  const bucketIds = new Set<string>();
  for (const bucket of plan.buckets) {
    if (bucketIds.has(bucket.id)) problems.push(`bucket ${bucket.id} is planned twice`);
    bucketIds.add(bucket.id);
  }
  for (const view of plan.analyticsViews) {
    if (tables.has(view.name)) problems.push(`analytics view ${view.name} has the name of a table`);
    if (columnOf(view.table, 'created_at')?.type !== 'timestamptz') {
      problems.push(`analytics view ${view.name} needs ${view.table}.created_at (timestamptz)`);
    }
    if (view.sumColumn && !['int', 'bigint', 'numeric'].includes(columnOf(view.table, view.sumColumn)?.type ?? '')) {
      problems.push(
        `analytics view ${view.name} sums ${view.table}.${view.sumColumn}, which is not a planned number column`,
      );
    }
  }
  problems.push(...validateSeed(plan, columnOf));
  return problems;
}

function validateSeed(plan: Plan, columnOf: (table: string, name: string) => PlanColumn | undefined): string[] {
  if (!plan.seed) return [];
  const problems: string[] = [];
  const rowsPerTable = new Map<string, number>();
  for (const [i, row] of plan.seed.rows.entries()) {
    const id = columnOf(row.table, 'id');
    if (!id?.primaryKey || id.type !== 'uuid')
      problems.push(`seed row ${i}: table ${row.table} has no uuid primary key id`);
    for (const [name, value] of Object.entries(row.values)) {
      if (!columnOf(row.table, name)) problems.push(`seed row ${i}: ${row.table}.${name} is not planned`);
      if (value !== null && typeof value === 'object') {
        if ('user' in value && value.user >= plan.seed.users.length)
          problems.push(`seed row ${i}: demo user ${value.user} does not exist`);
        if ('row' in value && value.row >= (rowsPerTable.get(value.table) ?? 0)) {
          problems.push(`seed row ${i}: row ${value.row} of ${value.table} is not seeded before it`);
        }
      }
    }
    rowsPerTable.set(row.table, (rowsPerTable.get(row.table) ?? 0) + 1);
  }
  return problems;
}

/** Tables in an order where every table comes after the tables it references; null on a cycle. */
export function tableOrder(tables: readonly PlanTable[]): PlanTable[] | null {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const ordered: PlanTable[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (table: PlanTable): boolean => {
    const seen = state.get(table.name);
    if (seen === 'done') return true;
    if (seen === 'visiting') return false;
    state.set(table.name, 'visiting');
    for (const c of table.columns) {
      const target = c.references?.schema === 'public' ? byName.get(c.references.table) : undefined;
      if (target && target !== table && !visit(target)) return false;
    }
    state.set(table.name, 'done');
    ordered.push(table);
    return true;
  };
  for (const table of tables) if (!visit(table)) return null;
  return ordered;
}
