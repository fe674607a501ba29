import { canonicalExpression, isAlwaysTrue, loadSqlParser, sameExpression } from './expression.js';

beforeAll(loadSqlParser);

/** What the renderer writes, and what `pg_get_expr` gave back for it on Postgres 15 (read from a real build). */
const STORED: Array<[string, string]> = [
  ['"bidder_id" = (select auth.uid())', '(bidder_id = ( SELECT auth.uid() AS uid))'],
  [
    `"status" = 'active' or "owner_id" = (select auth.uid())`,
    `((status = 'active'::text) OR (owner_id = ( SELECT auth.uid() AS uid)))`,
  ],
  [
    `bucket_id = 'listing-images' and (storage.foldername(name))[1] = (select auth.uid())::text`,
    `((bucket_id = 'listing-images'::text) AND ((storage.foldername(name))[1] = (( SELECT auth.uid() AS uid))::text))`,
  ],
  [
    `private.is_org_member("org_id") and "created_by" = (select auth.uid())`,
    `(private.is_org_member(org_id) AND (created_by = ( SELECT auth.uid() AS uid)))`,
  ],
  [
    `exists (select 1 from "public"."listings" p where p."id" = "public"."bids"."listing_id" and p."owner_id" = (select auth.uid()))`,
    `(EXISTS ( SELECT 1\n   FROM listings p\n  WHERE ((p.id = bids.listing_id) AND (p.owner_id = ( SELECT auth.uid() AS uid)))))`,
  ],
  [
    `"status" in ('active', 'sold', 'archived')`,
    `(status = ANY (ARRAY['active'::text, 'sold'::text, 'archived'::text]))`,
  ],
  [`char_length("name") <= 200`, `(char_length(name) <= 200)`],
  [`"rating" between 1 and 5`, `((rating >= 1) AND (rating <= 5))`],
  [`'{}'::jsonb`, `'{}'::jsonb`],
  [`'active'`, `'active'::text`],
];

describe('canonicalExpression', () => {
  it.each(STORED)('given %s as planned, when Postgres stores it, then it is the same expression', (planned, stored) => {
    expect(canonicalExpression(stored)).toBe(canonicalExpression(planned));
    expect(sameExpression(planned, stored)).toBe(true);
  });

  it('tells a changed predicate from the planned one', () => {
    expect(sameExpression('"bidder_id" = (select auth.uid())', 'true')).toBe(false);
    expect(sameExpression('"bidder_id" = (select auth.uid())', '(buyer_id = ( SELECT auth.uid() AS uid))')).toBe(false);
    // auth.uid() per row is not the planned (select auth.uid()) (lint auth_rls_initplan).
    expect(sameExpression('"bidder_id" = (select auth.uid())', '(bidder_id = auth.uid())')).toBe(false);
    expect(sameExpression(`"status" in ('a', 'b')`, `(status = ANY (ARRAY['a'::text, 'c'::text]))`)).toBe(false);
    // Grouping matters: (a or b) and c is not a or (b and c).
    expect(sameExpression('(a or b) and c', 'a or (b and c)')).toBe(false);
    expect(sameExpression('a and (b and c)', '((a AND b) AND c)')).toBe(true);
  });

  it('keeps null as null and compares an expression it cannot parse by its text', () => {
    expect(canonicalExpression(null)).toBeNull();
    expect(sameExpression(null, null)).toBe(true);
    expect(sameExpression(null, 'true')).toBe(false);
    expect(canonicalExpression('a = ) (')).toBe('unparsed:a = ) (');
    // Text cannot close the parenthesis it is wrapped in and append a clause.
    expect(canonicalExpression('true) union (select 1')).toMatch(/^unparsed:/);
  });
});

describe('isAlwaysTrue', () => {
  it.each(['true', '(true)', 'TRUE', '1 = 1', '(1 = 1)'])('%s lets every row through', (sql) => {
    expect(isAlwaysTrue(sql)).toBe(true);
  });

  it.each(['false', `(status = 'active'::text)`, '(owner_id = ( SELECT auth.uid() AS uid))'])('%s does not', (sql) => {
    expect(isAlwaysTrue(sql)).toBe(false);
  });

  it('is false for no expression (a permissive policy without one grants nothing)', () => {
    expect(isAlwaysTrue(null)).toBe(false);
  });
});
