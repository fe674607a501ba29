/**
 * Planning, shared by the orchestrator (which builds), the CLI (which previews plans) and the drift
 * sentinel (which compares an environment with its plan): vibe chunks and local embeddings, templates,
 * the rules planner, plan validation and the SQL renderer. Pure: no I/O.
 */
export * from './chunk.js';
export * from './embed.js';
export * from './planner.js';
export * from './rules-planner.js';
export * from './validate-plan.js';
export * from './policies.js';
export * from './render-sql.js';
export * from './render-edge-functions.js';
export * from './sql.js';
export * from './templates/index.js';
export type { TemplateDefinition, ParentEntity } from './templates/template.js';
export * from './expected-schema.js';
export * from './access-matrix.js';
export * from './verification.js';
