import type { ColumnCheck, ColumnDefault, ColumnReference, ColumnType, PlanColumn, PlanSource } from '@vibe/contracts';

/** Small builders for writing templates and rules in the plan's vocabulary. */
export function column(
  name: string,
  type: ColumnType,
  options: {
    nullable?: boolean;
    primaryKey?: boolean;
    unique?: boolean;
    default?: ColumnDefault;
    check?: ColumnCheck;
    references?: Partial<ColumnReference> & { table: string };
  } = {},
): PlanColumn {
  return {
    name,
    type,
    nullable: options.nullable ?? !options.primaryKey,
    primaryKey: options.primaryKey ?? false,
    unique: options.unique ?? false,
    default: options.default ?? null,
    check: options.check ?? null,
    references: options.references
      ? { schema: 'public', column: 'id', onDelete: 'cascade', ...options.references }
      : null,
  };
}

export const idColumn = (): PlanColumn => column('id', 'uuid', { primaryKey: true, default: 'gen_random_uuid' });
export const createdAt = (): PlanColumn => column('created_at', 'timestamptz', { default: 'now' });
export const updatedAt = (): PlanColumn => column('updated_at', 'timestamptz', { default: 'now' });

/** A user id column pointing at `profiles`. */
export function userColumn(name: string, options: { nullable?: boolean; default?: ColumnDefault } = {}): PlanColumn {
  return column(name, 'uuid', {
    nullable: options.nullable ?? false,
    default: options.default,
    references: { table: 'profiles' },
  });
}

export function baseline(reason: string): PlanSource {
  return { chunk: null, reason };
}
