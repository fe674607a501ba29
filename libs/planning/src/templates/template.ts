import type { PlanAnalyticsView, PlanPolicy, PlanSeed, PlanTable, Template } from '@vibe/contracts';

/** The entity that features (reviews, comments, images…) attach to. */
export interface ParentEntity {
  table: string;
  /** Column of the parent that holds the owning user. */
  ownerColumn: string;
  /** Child tables carry this organization column and org-member policies (SaaS), or none (marketplace). */
  orgColumn: string | null;
  /** Prefix for feature names: `listing` → `listing_id`, `listing-images`. */
  singular: string;
}

export interface TemplateDefinition {
  name: Template;
  parent: ParentEntity;
  tables: PlanTable[];
  policies: PlanPolicy[];
  /** Words by which a vibe sentence asks for a baseline table (traceability of template items). */
  keywords: Record<string, RegExp>;
  /** Sentences matching this are what the template already is (not reported as unrecognized). */
  coreWords: RegExp;
  analyticsView: Omit<PlanAnalyticsView, 'source'>;
  /** Demo rows that make the analytics query return rows. */
  seed: PlanSeed;
}
