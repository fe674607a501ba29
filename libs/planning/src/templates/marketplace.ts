import { baseline, column, createdAt, idColumn, updatedAt, userColumn } from '../vocabulary.js';
import { profilesPolicies, profilesTable } from './profiles.js';
import type { TemplateDefinition } from './template.js';

const spec = (section: string) => baseline(`marketplace template baseline (spec ${section})`);

/**
 * Spec §9.1 and §9.2 in the plan's vocabulary. The one deliberate difference: §9.2's `listings_write_owner`
 * (FOR ALL) becomes insert/update/delete policies and the owner's read of their own non-active listings is
 * folded into `listings_read_public`, so no role has two permissive policies for one command
 * (DESIGN.md §6); the access each role has is the same.
 */
export const MARKETPLACE: TemplateDefinition = {
  name: 'marketplace',
  parent: { table: 'listings', ownerColumn: 'owner_id', orgColumn: null, singular: 'listing' },
  tables: [
    profilesTable(),
    {
      name: 'listings',
      columns: [
        idColumn(),
        createdAt(),
        updatedAt(),
        userColumn('owner_id'),
        column('title', 'text', { nullable: false }),
        column('description', 'text'),
        column('price_cents', 'int', { nullable: false, check: { kind: 'non_negative' } }),
        column('status', 'text', {
          nullable: false,
          default: { text: 'active' },
          check: { kind: 'one_of', values: ['active', 'sold', 'archived'] },
        }),
      ],
      indexes: [],
      touchUpdatedAt: true,
      source: spec('§9.2.1'),
    },
    {
      name: 'bids',
      columns: [
        idColumn(),
        createdAt(),
        column('listing_id', 'uuid', { nullable: false, references: { table: 'listings' } }),
        userColumn('bidder_id'),
        column('amount_cents', 'int', { nullable: false, check: { kind: 'positive' } }),
      ],
      indexes: [],
      touchUpdatedAt: false,
      source: spec('§9.2.1'),
    },
    {
      name: 'orders',
      columns: [
        idColumn(),
        createdAt(),
        userColumn('buyer_id'),
        column('listing_id', 'uuid', { nullable: false, references: { table: 'listings', onDelete: 'restrict' } }),
        column('total_cents', 'int', { nullable: false, check: { kind: 'non_negative' } }),
        column('status', 'text', {
          nullable: false,
          default: { text: 'created' },
          check: { kind: 'one_of', values: ['created', 'paid', 'canceled', 'fulfilled'] },
        }),
      ],
      indexes: [],
      touchUpdatedAt: false,
      source: spec('§9.2.1'),
    },
  ],
  policies: [
    ...profilesPolicies(),
    {
      kind: 'public_read',
      table: 'listings',
      where: { column: 'status', equals: 'active' },
      ownerColumn: 'owner_id',
      source: spec('§9.2.2 listings_read_public'),
    },
    {
      kind: 'owner_write',
      table: 'listings',
      ownerColumn: 'owner_id',
      commands: ['insert', 'update', 'delete'],
      source: spec('§9.2.2 listings_write_owner'),
    },
    { kind: 'owner_read', table: 'bids', ownerColumn: 'bidder_id', source: spec('§9.2.2 bids_read_own') },
    {
      kind: 'owner_write',
      table: 'bids',
      ownerColumn: 'bidder_id',
      commands: ['insert'],
      source: spec('§9.2.2 bids_insert_own'),
    },
    { kind: 'owner_read', table: 'orders', ownerColumn: 'buyer_id', source: spec('§9.2.2 orders_read_own') },
    {
      kind: 'owner_write',
      table: 'orders',
      ownerColumn: 'buyer_id',
      commands: ['insert'],
      source: spec('§9.2.2 orders_insert_own'),
    },
  ],
  keywords: {
    profiles: /\b(profiles?|users?|accounts?|sign ?(up|in)|members?)\b/i,
    listings: /\b(list(s|ing|ings)?|sell(s|ers?|ing)?|items?|products?|goods|market(s| ?places?)?|shop|store)\b/i,
    bids: /\b(bids?|bidding|offers?|auctions?)\b/i,
    orders: /\b(orders?|buy(s|ers?|ing)?|purchases?|check ?out|sales?)\b/i,
  },
  coreWords:
    /\b(market(s| ?places?)?|list(s|ing|ings)?|sell(s|ers?|ing)?|buy(s|ers?|ing)?|bids?|orders?|profiles?|users?|items?|products?|price|purchases?|check ?out|shop|store|auctions?|offers?)\b/i,
  analyticsView: { name: 'analytics_orders_daily', table: 'orders', sumColumn: 'total_cents' },
  seed: {
    users: [
      { email: 'demo-seller@example.com', name: 'Demo Seller' },
      { email: 'demo-buyer@example.com', name: 'Demo Buyer' },
    ],
    rows: [
      {
        table: 'listings',
        values: { owner_id: { user: 0 }, title: 'Oak side table', price_cents: 8500, status: 'sold' },
      },
      {
        table: 'listings',
        values: { owner_id: { user: 0 }, title: 'Brass lamp', price_cents: 4200, status: 'active' },
      },
      {
        table: 'orders',
        values: {
          buyer_id: { user: 1 },
          listing_id: { row: 0, table: 'listings' },
          total_cents: 8500,
          status: 'paid',
          created_at: { daysAgo: 2 },
        },
      },
      {
        table: 'orders',
        values: {
          buyer_id: { user: 1 },
          listing_id: { row: 1, table: 'listings' },
          total_cents: 4200,
          status: 'created',
          created_at: { daysAgo: 0 },
        },
      },
    ],
  },
};
