import { loadOrchestratorConfig } from '../config.js';
import { EMBEDDING_DIMENSIONS, localEmbedding } from '@vibe/planning';
import { createEmbedder, LocalEmbedder, OpenAIEmbedder } from './embedder.js';

describe('LocalEmbedder', () => {
  it('embeds each text with the local 1536-dimensional embedding, in order, under its persisted name', async () => {
    const embedder = new LocalEmbedder();
    const vectors = await embedder.embed(['sellers upload photos', 'buyers leave reviews']);
    expect(embedder.model).toBe('local-hash-1536');
    expect(vectors).toEqual([localEmbedding('sellers upload photos'), localEmbedding('buyers leave reviews')]);
    expect(vectors.every((v) => v.length === EMBEDDING_DIMENSIONS)).toBe(true);
    expect(await embedder.embed([])).toEqual([]);
  });
});

describe('createEmbedder', () => {
  it('is local without a key and OpenAI with one, under the configured model', () => {
    expect(createEmbedder(loadOrchestratorConfig({}))).toBeInstanceOf(LocalEmbedder);
    const openai = createEmbedder(loadOrchestratorConfig({ OPENAI_API_KEY: 'sk-test' }));
    expect(openai).toBeInstanceOf(OpenAIEmbedder);
    expect(openai.model).toBe('text-embedding-3-small');
    expect(
      createEmbedder(
        loadOrchestratorConfig({ OPENAI_API_KEY: 'sk-test', OPENAI_EMBEDDING_MODEL: 'text-embedding-3-large' }),
      ).model,
    ).toBe('text-embedding-3-large');
  });
});
