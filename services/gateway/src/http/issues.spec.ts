import { CreateSessionRequest } from '@vibe/contracts';
import { type z } from 'zod';
import { describeIssues, requiredMessage } from './issues.js';

const problems = (schema: z.ZodType, value: unknown, root = 'body') => {
  const result = schema.safeParse(value, { error: requiredMessage });
  if (result.success) throw new Error('expected a rejection');
  return describeIssues(result.error.issues, root);
};

describe('describeIssues', () => {
  it('names each field by its path', () => {
    expect(
      problems(CreateSessionRequest, { vibeText: 'x', template: 'saas', options: { enableAnalytics: 'yes' } }),
    ).toBe('options.enableAnalytics: Invalid input: expected boolean, received string');
  });

  it('names every unknown field, nested ones by their full path', () => {
    expect(problems(CreateSessionRequest, { vibeText: 'x', template: 'saas', a: 1, options: { b: 2 } })).toBe(
      'options.b: unknown field; a: unknown field',
    );
  });

  it('says "required" for a missing field, and keeps the contract\'s own messages', () => {
    expect(problems(CreateSessionRequest, { template: 'saas' })).toBe('vibeText: required');
    expect(problems(CreateSessionRequest, { vibeText: ' ', template: 'saas' })).toBe(
      'vibeText: vibeText must not be empty',
    );
  });

  it('names the root for a problem with the whole input', () => {
    expect(problems(CreateSessionRequest, undefined)).toBe('body: required');
    expect(problems(CreateSessionRequest, 'text', 'query')).toBe(
      'query: Invalid input: expected object, received string',
    );
  });
});
