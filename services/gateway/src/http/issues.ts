import { type z } from 'zod';

/**
 * The problems of a rejected input as one message, each naming its field by path:
 * `options.enableAnalytics: Invalid input: expected boolean, received string; extra: unknown field`.
 * A problem with the input as a whole is named by `root` ("body", "query").
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], root: string): string {
  return issues
    .flatMap((issue) => {
      const path = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => `${path ? `${path}.${key}` : key}: unknown field`);
      }
      return [`${path || root}: ${issue.message}`];
    })
    .join('; ');
}

/** Says "required" instead of "expected string, received undefined" for a missing value. */
export const requiredMessage: z.core.$ZodErrorMap = (issue) =>
  issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined;
