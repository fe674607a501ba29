import { chunkVibe, MAX_CHUNK_LENGTH } from './chunk.js';
import { cosineSimilarity, EMBEDDING_DIMENSIONS, localEmbedding } from './embed.js';

describe('chunkVibe', () => {
  it('keeps sentences whole and in order', () => {
    const chunks = chunkVibe('Sellers list items. Buyers bid on them!  Orders are paid.', 30);
    expect(chunks).toEqual([
      { index: 0, content: 'Sellers list items.' },
      { index: 1, content: 'Buyers bid on them!' },
      { index: 2, content: 'Orders are paid.' },
    ]);
  });

  it('joins short sentences up to the limit', () => {
    expect(chunkVibe('A b. C d. E f.')).toEqual([{ index: 0, content: 'A b. C d. E f.' }]);
  });

  it('cuts an overlong sentence at word boundaries without losing words', () => {
    const words = Array.from({ length: 300 }, (_, i) => `word${i}`);
    const chunks = chunkVibe(words.join(' '));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((chunk) => chunk.content.length <= MAX_CHUNK_LENGTH)).toBe(true);
    expect(chunks.map((chunk) => chunk.content).join(' ')).toBe(words.join(' '));
  });

  it('gives nothing for blank text', () => {
    expect(chunkVibe('   \n ')).toEqual([]);
  });
});

describe('localEmbedding', () => {
  it('is deterministic, unit length and 1536-dimensional', () => {
    const a = localEmbedding('buyers leave reviews');
    expect(a).toHaveLength(EMBEDDING_DIMENSIONS);
    expect(a).toEqual(localEmbedding('buyers leave reviews'));
    expect(Math.sqrt(a.reduce((s, v) => s + v * v, 0))).toBeCloseTo(1, 6);
  });

  it('places related texts closer than unrelated ones', () => {
    const query = localEmbedding('row level security on orders');
    const related = localEmbedding('only buyers can read their own orders, protect orders with security');
    const unrelated = localEmbedding('sellers upload photos of vintage furniture');
    expect(cosineSimilarity(query, related)).toBeGreaterThan(cosineSimilarity(query, unrelated));
  });
});
