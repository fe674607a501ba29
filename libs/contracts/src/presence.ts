import { z } from 'zod';

/** Architect presence on `build:{sessionId}` (spec §5.1). Latest value per session, kept in a KV bucket. */
export const PresenceFocus = z.object({
  type: z.enum(['table', 'policy', 'function', 'analytics']),
  name: z.string(),
});
export type PresenceFocus = z.infer<typeof PresenceFocus>;

export const Presence = z.object({
  actor: z.literal('architect'),
  sessionId: z.uuid(),
  step: z.string(),
  focus: PresenceFocus.nullable(),
  progress: z.number().min(0).max(1),
  ts: z.iso.datetime(),
});
export type Presence = z.infer<typeof Presence>;
