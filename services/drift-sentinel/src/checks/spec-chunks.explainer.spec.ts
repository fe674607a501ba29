import { chunkVibe, cosineSimilarity, localEmbedding } from '@vibe/planning';
import { MARKETPLACE_VIBE, observedFromPlan, planFor, VIBE_CHUNK } from '../../test/factories.js';
import { diff } from '../drift/diff.js';
import { loadSqlParser } from '../drift/expression.js';
import type { Observed } from '../drift/observed.js';
import { explanationText } from './spec-chunks.explainer.js';

beforeAll(loadSqlParser);

/**
 * The nearest chunk by the local embedding, computed here in memory the way the database computes it
 * (cosine similarity of localEmbedding vectors): each kind of drift points at the part of the vibe it breaks.
 */
const plan = planFor();
const chunks = chunkVibe(MARKETPLACE_VIBE).map((chunk) => ({ ...chunk, vector: localEmbedding(chunk.content) }));

function nearestChunk(tamper: (observed: Observed) => void): number[] {
  const observed = observedFromPlan(plan);
  tamper(observed);
  return diff(plan, observed).map((finding) => {
    const query = localEmbedding(explanationText(finding));
    const ranked = [...chunks].sort((a, b) => cosineSimilarity(b.vector, query) - cosineSimilarity(a.vector, query));
    return ranked[0]!.index;
  });
}

describe('the spec chunk nearest to a finding', () => {
  it('has five chunks to choose from', () => {
    expect(chunks).toHaveLength(5);
  });

  const cases: Array<[string, number, (observed: Observed) => void]> = [
    [
      'RLS disabled on bids',
      VIBE_CHUNK.bids,
      (o) => {
        o.snapshot.tables.find((t) => t.name === 'bids')!.rlsEnabled = false;
      },
    ],
    [
      'orders_read_own dropped',
      VIBE_CHUNK.orders,
      (o) => {
        o.snapshot.policies = o.snapshot.policies.filter((p) => p.name !== 'orders_read_own');
      },
    ],
    [
      'listings_update_own replaced by using (true)',
      VIBE_CHUNK.listings,
      (o) => {
        o.snapshot.policies.find((p) => p.name === 'listings_update_own')!.using = 'true';
      },
    ],
    [
      'a column dropped from listings',
      VIBE_CHUNK.listings,
      (o) => {
        const listings = o.snapshot.tables.find((t) => t.name === 'listings')!;
        listings.columns = listings.columns.filter((c) => c.name !== 'description');
      },
    ],
    [
      'a column added to profiles',
      VIBE_CHUNK.profiles,
      (o) => {
        o.snapshot.tables
          .find((t) => t.name === 'profiles')!
          .columns.push({ name: 'phone', type: 'text', notNull: false, default: null });
      },
    ],
    [
      'the bids table dropped',
      VIBE_CHUNK.bids,
      (o) => {
        o.snapshot.tables = o.snapshot.tables.filter((t) => t.name !== 'bids');
      },
    ],
    [
      'a security definer view over auth.users',
      VIBE_CHUNK.profiles,
      (o) => {
        o.snapshot.views.push({
          name: 'user_directory',
          materialized: false,
          securityInvoker: false,
          apiSelect: ['anon'],
          dependsOn: ['auth.users'],
        });
      },
    ],
    [
      'the drift_check Edge Function gone',
      VIBE_CHUNK.monitoring,
      (o) => {
        o.edgeFunctions = [];
      },
    ],
  ];

  it.each(cases)('given %s, then it is the chunk about that part (%i)', (_what, expected, tamper) => {
    expect(nearestChunk(tamper)).toEqual([expected]);
  });
});
