import { BadRequestException, type PipeTransform } from '@nestjs/common';
import { type z } from 'zod';
import { describeIssues, requiredMessage } from './issues.js';

/**
 * Parses a request part (body, query) at the edge with a contract schema; a rejection is a 400 whose
 * message names every field at fault. Inside, the parsed value is trusted.
 */
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(
    private readonly schema: S,
    private readonly root: 'body' | 'query' | 'path',
  ) {}

  transform(value: unknown): z.output<S> {
    const result = this.schema.safeParse(value, { error: requiredMessage });
    if (!result.success) throw new BadRequestException(describeIssues(result.error.issues, this.root));
    return result.data;
  }
}
