import { OpenAIEmbeddings } from '@langchain/openai';
import {
  clientFields,
  describeOpenAIError,
  openAIConnection,
  type OpenAIConfig,
  type OpenAIConnection,
} from '../openai.js';
import { EMBEDDING_DIMENSIONS, localEmbedding } from '@vibe/planning';

/**
 * Turns texts into vectors for `spec_chunks.embedding`. Vectors of different models are not comparable,
 * so the model's name is stored with each chunk (`metadata.embedding`) and a search embeds its query with
 * the same model.
 */
export interface Embedder {
  readonly model: string;
  /** One vector of EMBEDDING_DIMENSIONS numbers per text, in order. */
  embed(texts: string[]): Promise<number[][]>;
}

// PERSISTED in spec_chunks.metadata.embedding: rename only with a migration of the stored rows.
export const LOCAL_EMBEDDING_MODEL = 'local-hash-1536';

/** The deterministic offline embedding (DESIGN.md §3's local default). */
export class LocalEmbedder implements Embedder {
  readonly model = LOCAL_EMBEDDING_MODEL;

  async embed(texts: string[]): Promise<number[][]> {
    return texts.map((text) => localEmbedding(text));
  }
}

export class EmbeddingError extends Error {
  override readonly name = 'EmbeddingError';
}

export interface OpenAIEmbedderOptions extends OpenAIConnection {
  /** An OpenAI embedding model that can return EMBEDDING_DIMENSIONS dimensions (text-embedding-3-*). */
  model: string;
}

/** OpenAI's embeddings API (or a compatible server), asked for EMBEDDING_DIMENSIONS dimensions and checked. */
export class OpenAIEmbedder implements Embedder {
  readonly model: string;
  private readonly client: OpenAIEmbeddings;

  constructor(private readonly options: OpenAIEmbedderOptions) {
    this.model = options.model;
    this.client = new OpenAIEmbeddings({
      model: options.model,
      dimensions: EMBEDDING_DIMENSIONS,
      ...clientFields(options),
    });
  }

  async embed(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return [];
    let vectors: number[][];
    try {
      vectors = await this.client.embedDocuments(texts);
    } catch (error) {
      throw new EmbeddingError(
        `embedding with ${this.model} failed: ${describeOpenAIError(error, this.options.apiKey)}`,
      );
    }
    if (vectors.length !== texts.length) {
      throw new EmbeddingError(`${this.model} returned ${vectors.length} embeddings for ${texts.length} texts`);
    }
    const wrong = vectors.find((vector) => vector.length !== EMBEDDING_DIMENSIONS);
    if (wrong) {
      throw new EmbeddingError(
        `${this.model} returned ${wrong.length}-dimensional embeddings; spec_chunks needs ${EMBEDDING_DIMENSIONS}`,
      );
    }
    if (!vectors.every((vector) => vector.every((value) => Number.isFinite(value)))) {
      throw new EmbeddingError(`${this.model} returned a non-finite value`);
    }
    // The SDK decodes base64 answers into typed arrays; callers get plain arrays.
    return vectors.map((vector) => Array.from(vector));
  }
}

/** OpenAI's embeddings when a key is configured, else the local embedding. */
export function createEmbedder(config: OpenAIConfig): Embedder {
  if (!config.OPENAI_API_KEY) return new LocalEmbedder();
  const connection = openAIConnection({ ...config, OPENAI_API_KEY: config.OPENAI_API_KEY });
  return new OpenAIEmbedder({ ...connection, model: config.OPENAI_EMBEDDING_MODEL });
}
