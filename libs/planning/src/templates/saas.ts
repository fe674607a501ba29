import { baseline, column, createdAt, idColumn, updatedAt, userColumn } from '../vocabulary.js';
import { profilesPolicies, profilesTable } from './profiles.js';
import type { TemplateDefinition } from './template.js';

const base = (what: string) => baseline(`saas template baseline (${what})`);

/**
 * SaaS: organizations, memberships with roles, and org-scoped projects. Membership checks go through
 * `private.is_org_member()` / `private.is_org_admin()`, `security definer` functions with a fixed
 * search_path in a schema the API does not expose, so a policy on `memberships` never queries
 * `memberships` under RLS again (no recursion). Creating an organization makes its creator its owner
 * (a trigger the renderer adds with the helpers).
 */
export const SAAS: TemplateDefinition = {
  name: 'saas',
  parent: { table: 'projects', ownerColumn: 'created_by', orgColumn: 'org_id', singular: 'project' },
  tables: [
    profilesTable(),
    {
      name: 'organizations',
      columns: [
        idColumn(),
        createdAt(),
        updatedAt(),
        column('name', 'text', { nullable: false, check: { kind: 'max_length', max: 200 } }),
        userColumn('created_by', { default: 'auth_uid' }),
      ],
      indexes: [],
      touchUpdatedAt: true,
      source: base('organizations'),
    },
    {
      name: 'memberships',
      columns: [
        idColumn(),
        createdAt(),
        column('org_id', 'uuid', { nullable: false, references: { table: 'organizations' } }),
        userColumn('user_id'),
        column('role', 'text', {
          nullable: false,
          default: { text: 'member' },
          check: { kind: 'one_of', values: ['owner', 'admin', 'member'] },
        }),
      ],
      indexes: [{ columns: ['org_id', 'user_id'], unique: true }],
      touchUpdatedAt: false,
      source: base('memberships with roles'),
    },
    {
      name: 'projects',
      columns: [
        idColumn(),
        createdAt(),
        updatedAt(),
        column('org_id', 'uuid', { nullable: false, references: { table: 'organizations' } }),
        column('name', 'text', { nullable: false, check: { kind: 'max_length', max: 200 } }),
        column('description', 'text'),
        userColumn('created_by', { default: 'auth_uid' }),
        column('status', 'text', {
          nullable: false,
          default: { text: 'active' },
          check: { kind: 'one_of', values: ['active', 'archived'] },
        }),
      ],
      indexes: [],
      touchUpdatedAt: true,
      source: base('org-scoped records'),
    },
  ],
  policies: [
    ...profilesPolicies(),
    {
      kind: 'org_member_read',
      table: 'organizations',
      orgColumn: 'id',
      source: base('members read their organization'),
    },
    {
      kind: 'owner_write',
      table: 'organizations',
      ownerColumn: 'created_by',
      commands: ['insert'],
      source: base('any user creates an organization and becomes its owner'),
    },
    {
      kind: 'org_admin_write',
      table: 'organizations',
      orgColumn: 'id',
      commands: ['update', 'delete'],
      source: base('admins manage their organization'),
    },
    {
      kind: 'org_member_read',
      table: 'memberships',
      orgColumn: 'org_id',
      source: base('members see who is in their organization'),
    },
    {
      kind: 'org_admin_write',
      table: 'memberships',
      orgColumn: 'org_id',
      commands: ['insert', 'update', 'delete'],
      source: base('admins manage memberships'),
    },
    { kind: 'org_member_read', table: 'projects', orgColumn: 'org_id', source: base('members read their projects') },
    {
      kind: 'org_member_insert',
      table: 'projects',
      orgColumn: 'org_id',
      ownerColumn: 'created_by',
      source: base('members create projects as themselves'),
    },
    {
      kind: 'org_admin_write',
      table: 'projects',
      orgColumn: 'org_id',
      commands: ['update', 'delete'],
      source: base('admins change and delete projects'),
    },
  ],
  keywords: {
    profiles: /\b(profiles?|users?|accounts?|sign ?(up|in))\b/i,
    organizations: /\b(organi[sz]ations?|orgs?|teams?|companies|company|workspaces?|tenants?)\b/i,
    memberships: /\b(members?|memberships?|roles?|admins?|invite[sd]?|collaborat\w*)\b/i,
    projects: /\b(projects?|records?|documents?|boards?|tasks?)\b/i,
  },
  coreWords:
    /\b(saas|organi[sz]ations?|orgs?|teams?|company|companies|workspaces?|tenants?|members?|roles?|admins?|projects?|records?|documents?|tasks?|users?|profiles?|share|sharing|collaborat\w*|invite[sd]?)\b/i,
  analyticsView: { name: 'analytics_projects_daily', table: 'projects', sumColumn: null },
  seed: {
    users: [{ email: 'demo-owner@example.com', name: 'Demo Owner' }],
    rows: [
      { table: 'organizations', values: { name: 'Demo Co', created_by: { user: 0 } } },
      {
        table: 'projects',
        values: {
          org_id: { row: 0, table: 'organizations' },
          name: 'Launch',
          created_by: { user: 0 },
          created_at: { daysAgo: 3 },
        },
      },
      {
        table: 'projects',
        values: {
          org_id: { row: 0, table: 'organizations' },
          name: 'Roadmap',
          created_by: { user: 0 },
          created_at: { daysAgo: 1 },
        },
      },
      {
        table: 'projects',
        values: {
          org_id: { row: 0, table: 'organizations' },
          name: 'Hiring',
          created_by: { user: 0 },
          created_at: { daysAgo: 0 },
        },
      },
    ],
  },
};
