import { chunkVibe } from '@vibe/planning';
import type { StepBody } from '../step.js';

/** Spec §6.1 `ingest_vibe`: chunks the vibe and stores each chunk with its embedding in `spec_chunks`. */
export const ingestVibe: StepBody = async (state, deps) => {
  const pieces = chunkVibe(state.vibeText);
  const embeddings = await deps.embedder.embed(pieces.map((chunk) => chunk.content));
  const chunks = pieces.map((chunk, i) => ({ ...chunk, embedding: embeddings[i]! }));
  await deps.chunks.replace(state.sessionId, chunks);
  await deps.events.emit(
    state.sessionId,
    'step_completed',
    'ingest_vibe',
    `Stored ${chunks.length} spec chunk(s) with ${deps.embedder.model} embeddings`,
    { step: 'ingest_vibe', done: [`stored ${chunks.length} spec chunks (${deps.embedder.model})`], deferred: [] },
  );
  return { chunkCount: chunks.length };
};
