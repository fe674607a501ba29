import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import type { Pool } from '@vibe/platform';

/**
 * PERSISTED: the schema of the LangGraph checkpoints in the control plane (created by migration 0003 and
 * filled by the library's setup()). Renaming it strands every checkpoint of a running build.
 */
export const CHECKPOINT_SCHEMA = 'langgraph';

/** Advisory-lock class of the checkpoint setup ("lgcp" in ASCII), second key 0. */
const SETUP_LOCK_CLASS = 0x6c676370;

/**
 * The build graph's checkpointer (spec §6.2, DESIGN.md §4): `@langchain/langgraph-checkpoint-postgres` in
 * the control plane, in its own schema. Its setup() creates and migrates its tables without guarding
 * against a second process doing the same, so every replica runs it under one advisory lock.
 */
export async function createCheckpointer(pool: Pool): Promise<PostgresSaver> {
  const saver = new PostgresSaver(pool, undefined, { schema: CHECKPOINT_SCHEMA });
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('select pg_advisory_lock($1, 0)', [SETUP_LOCK_CLASS]);
    try {
      await saver.setup();
    } finally {
      await client.query('select pg_advisory_unlock($1, 0)', [SETUP_LOCK_CLASS]).catch(() => {
        // A connection that may still hold the lock must not go back to the pool.
        broken = true;
      });
    }
  } finally {
    client.release(broken);
  }
  return saver;
}
