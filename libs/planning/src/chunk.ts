/** One piece of the vibe, as stored in `spec_chunks`. */
export interface VibeChunk {
  index: number;
  content: string;
}

/** Longest chunk, in characters. A single sentence longer than this is cut at word boundaries. */
export const MAX_CHUNK_LENGTH = 400;

/**
 * Splits a vibe into chunks of whole sentences, each at most MAX_CHUNK_LENGTH characters. Sentences are
 * kept whole so that a drift finding can point at the requirement that caused a plan item.
 */
export function chunkVibe(vibeText: string, maxLength = MAX_CHUNK_LENGTH): VibeChunk[] {
  const sentences = vibeText
    .replace(/\s+/g, ' ')
    .trim()
    .split(/(?<=[.!?;])\s+|\s*\n+\s*/)
    .flatMap((sentence) => splitLong(sentence.trim(), maxLength))
    .filter((sentence) => sentence.length > 0);

  const chunks: string[] = [];
  let current = '';
  for (const sentence of sentences) {
    if (current && current.length + 1 + sentence.length > maxLength) {
      chunks.push(current);
      current = sentence;
    } else {
      current = current ? `${current} ${sentence}` : sentence;
    }
  }
  if (current) chunks.push(current);
  return chunks.map((content, index) => ({ index, content }));
}

function splitLong(sentence: string, maxLength: number): string[] {
  if (sentence.length <= maxLength) return [sentence];
  const parts: string[] = [];
  let current = '';
  for (const word of sentence.split(' ')) {
    const pieces = word.length > maxLength ? (word.match(new RegExp(`.{1,${maxLength}}`, 'g')) ?? []) : [word];
    for (const piece of pieces) {
      if (current && current.length + 1 + piece.length > maxLength) {
        parts.push(current);
        current = piece;
      } else {
        current = current ? `${current} ${piece}` : piece;
      }
    }
  }
  if (current) parts.push(current);
  return parts;
}
