import { describeOpenAIError, safeLine } from './openai.js';

describe('describeOpenAIError', () => {
  const key = 'sk-proj-Abc123Def456Ghi789Jkl012';

  it('cuts the configured key out wherever an error echoes it, and bearer tokens and JWTs too', () => {
    const error = new Error(
      `500 upstream failed for key ${key} (header "Authorization: Bearer ${key}", token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlX3g)`,
    );
    const line = describeOpenAIError(error, key);
    expect(line).toMatch(/^Error: 500 upstream failed for key \[redacted\]/);
    expect(line).not.toContain(key);
    expect(line).not.toContain('Abc123');
    expect(line).not.toContain('eyJhbGciOiJIUzI1NiJ9');
  });

  it('is one short line', () => {
    const line = safeLine(`first\nsecond ${'x'.repeat(500)}`, key, 100);
    expect(line).not.toContain('\n');
    expect(line).toHaveLength(100);
    expect(line.endsWith('…')).toBe(true);
  });
});
