import { createHash } from 'node:crypto';

/** Dimensions of `spec_chunks.embedding`, the same as OpenAI's text-embedding-3-small. */
export const EMBEDDING_DIMENSIONS = 1536;

/**
 * The local, deterministic embedding used when no OpenAI key is configured: signed feature hashing of
 * word unigrams and bigrams, L2-normalised. Texts sharing words point in similar directions, which is
 * what the drift sentinel's "nearest spec chunk" search needs offline.
 */
export function localEmbedding(text: string, dimensions = EMBEDDING_DIMENSIONS): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  const words = text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  const features = [...words, ...words.slice(1).map((word, i) => `${words[i]} ${word}`)];
  for (const feature of features) {
    const digest = createHash('sha256').update(feature).digest();
    const slot = digest.readUInt32BE(0) % dimensions;
    const sign = (digest[4]! & 1) === 0 ? 1 : -1;
    vector[slot]! += sign * (feature.includes(' ') ? 0.5 : 1);
  }
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0));
  return norm === 0 ? vector : vector.map((value) => value / norm);
}

export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i] ?? 0;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}
