import type { Migration } from '@vibe/planning';
import type { BuildDeps } from '../ports.js';

/** Applies migrations in order through the provisioner; each has a stable command id per session. */
export async function applyAll(
  sessionId: string,
  environmentRef: string,
  migrations: readonly Migration[],
  deps: BuildDeps,
): Promise<void> {
  for (const migration of migrations) {
    await deps.provisioner.call(sessionId, `migration:${migration.name}`, {
      tool: 'apply_migration',
      environmentRef,
      name: migration.name,
      query: migration.query,
    });
  }
}
