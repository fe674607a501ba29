import type { PlanBucket, PlanPolicy, PlanSource, PlanTable } from '@vibe/contracts';
import type { TemplateDefinition } from './templates/template.js';
import { column, createdAt, idColumn, userColumn } from './vocabulary.js';

/** What a feature adds to a plan. */
export interface FeatureAddition {
  tables?: PlanTable[];
  policies?: PlanPolicy[];
  buckets?: PlanBucket[];
  enableAnalytics?: boolean;
  enableDriftSentinel?: boolean;
}

export interface Feature {
  key: string;
  /** Words in a vibe sentence that ask for the feature. */
  pattern: RegExp;
  apply(template: TemplateDefinition, source: PlanSource): FeatureAddition;
}

/**
 * A child table of the template's parent entity (a listing's reviews, a project's comments). In an
 * org-scoped template it carries the organization and is readable by its members; otherwise it follows
 * `visibility`. Its author (`ownerColumn`) alone writes it.
 */
function childTable(
  template: TemplateDefinition,
  source: PlanSource,
  spec: {
    name: string;
    ownerColumn: string;
    columns: PlanTable['columns'];
    unique?: string[];
    visibility: 'public' | 'owner';
    ownerCommands: Array<'insert' | 'update' | 'delete'>;
  },
): FeatureAddition {
  const parentColumn = `${template.parent.singular}_id`;
  const org = template.parent.orgColumn;
  const table: PlanTable = {
    name: spec.name,
    columns: [
      idColumn(),
      createdAt(),
      ...(org ? [column(org, 'uuid', { nullable: false, references: { table: 'organizations' } })] : []),
      column(parentColumn, 'uuid', { nullable: false, references: { table: template.parent.table } }),
      userColumn(spec.ownerColumn, { default: 'auth_uid' }),
      ...spec.columns,
    ],
    indexes: spec.unique ? [{ columns: spec.unique, unique: true }] : [],
    touchUpdatedAt: false,
    source,
  };
  const policies: PlanPolicy[] = [];
  if (org) {
    policies.push({ kind: 'org_member_read', table: spec.name, orgColumn: org, source });
    if (spec.ownerCommands.includes('insert')) {
      policies.push({
        kind: 'org_member_insert',
        table: spec.name,
        orgColumn: org,
        ownerColumn: spec.ownerColumn,
        source,
      });
    }
  } else if (spec.visibility === 'public') {
    policies.push({ kind: 'public_read', table: spec.name, where: null, ownerColumn: null, source });
  } else {
    policies.push({ kind: 'owner_read', table: spec.name, ownerColumn: spec.ownerColumn, source });
  }
  const ownerWrites = spec.ownerCommands.filter((command) => !(org && command === 'insert'));
  if (ownerWrites.length) {
    policies.push({
      kind: 'owner_write',
      table: spec.name,
      ownerColumn: spec.ownerColumn,
      commands: ownerWrites,
      source,
    });
  }
  return { tables: [table], policies };
}

const text = (name: string, max: number, nullable = true) =>
  column(name, 'text', { nullable, check: { kind: 'max_length', max } });

/** The rules planner's features, in the order their tables are added. */
export const FEATURES: Feature[] = [
  {
    key: 'images',
    pattern: /\b(photos?|images?|pictures?|pics|uploads?|uploaded|uploading|gallery|galleries|files?|attachments?)\b/i,
    apply: (template, source) => ({
      buckets: [
        {
          id: `${template.parent.singular}-${template.parent.orgColumn ? 'files' : 'images'}`,
          public: false,
          folderPolicy: 'owner_folder',
          source,
        },
      ],
    }),
  },
  {
    key: 'reviews',
    pattern: /\b(reviews?|reviewing|ratings?|rate|stars?|feedback)\b/i,
    apply: (template, source) =>
      childTable(template, source, {
        name: 'reviews',
        ownerColumn: 'author_id',
        columns: [
          column('rating', 'int', { nullable: false, check: { kind: 'between', min: 1, max: 5 } }),
          text('body', 5000),
        ],
        unique: [`${template.parent.singular}_id`, 'author_id'],
        visibility: 'public',
        ownerCommands: ['insert', 'update', 'delete'],
      }),
  },
  {
    key: 'comments',
    pattern: /\b(comments?|commenting|discussions?|threads?|replies|reply)\b/i,
    apply: (template, source) =>
      childTable(template, source, {
        name: 'comments',
        ownerColumn: 'author_id',
        columns: [text('body', 5000, false)],
        visibility: 'public',
        ownerCommands: ['insert', 'update', 'delete'],
      }),
  },
  {
    key: 'favorites',
    pattern:
      /\b(favou?rites?|favou?rite|watch ?lists?|wish ?lists?|bookmarks?|bookmarked|save (items|listings)|saved)\b/i,
    apply: (template, source) =>
      childTable(template, source, {
        name: 'favorites',
        ownerColumn: 'user_id',
        columns: [],
        unique: ['user_id', `${template.parent.singular}_id`],
        visibility: 'owner',
        ownerCommands: ['insert', 'delete'],
      }),
  },
  {
    key: 'messages',
    pattern: /\b(messag(e|es|ing)|chat(s|ting)?|dms?|direct messages?|inbox|conversations?)\b/i,
    apply: (_template, source) => ({
      tables: [
        {
          name: 'messages',
          columns: [
            idColumn(),
            createdAt(),
            userColumn('sender_id', { default: 'auth_uid' }),
            userColumn('recipient_id'),
            text('body', 5000, false),
            column('read_at', 'timestamptz'),
          ],
          indexes: [],
          touchUpdatedAt: false,
          source,
        },
      ],
      policies: [
        { kind: 'participant_read', table: 'messages', participantColumns: ['sender_id', 'recipient_id'], source },
        { kind: 'owner_write', table: 'messages', ownerColumn: 'sender_id', commands: ['insert'], source },
        // The recipient marks a message read.
        { kind: 'owner_write', table: 'messages', ownerColumn: 'recipient_id', commands: ['update'], source },
      ],
    }),
  },
  {
    key: 'categories',
    pattern: /\b(categor(y|ies|ise|ize|ized|ised)|tags?|tagged|tagging|labels?|labell?ed)\b/i,
    apply: (template, source) => {
      const join = `${template.parent.singular}_categories`;
      const parentColumn = `${template.parent.singular}_id`;
      const org = template.parent.orgColumn;
      const joinTable: PlanTable = {
        name: join,
        columns: [
          idColumn(),
          createdAt(),
          ...(org ? [column(org, 'uuid', { nullable: false, references: { table: 'organizations' } })] : []),
          column(parentColumn, 'uuid', { nullable: false, references: { table: template.parent.table } }),
          column('category_id', 'uuid', { nullable: false, references: { table: 'categories' } }),
        ],
        indexes: [{ columns: [parentColumn, 'category_id'], unique: true }],
        touchUpdatedAt: false,
        source,
      };
      const joinPolicies: PlanPolicy[] = org
        ? [
            { kind: 'org_member_read', table: join, orgColumn: org, source },
            { kind: 'org_admin_write', table: join, orgColumn: org, commands: ['insert', 'delete'], source },
          ]
        : [
            { kind: 'public_read', table: join, where: null, ownerColumn: null, source },
            {
              kind: 'parent_owner_write',
              table: join,
              parentColumn,
              parentTable: template.parent.table,
              parentOwnerColumn: template.parent.ownerColumn,
              commands: ['insert', 'delete'],
              source,
            },
          ];
      return {
        tables: [
          {
            name: 'categories',
            columns: [
              idColumn(),
              createdAt(),
              column('name', 'text', { nullable: false, unique: true, check: { kind: 'max_length', max: 100 } }),
            ],
            indexes: [],
            touchUpdatedAt: false,
            source,
          },
          joinTable,
        ],
        // Categories are reference data: everyone reads them; only the service role writes them.
        policies: [
          { kind: 'public_read', table: 'categories', where: null, ownerColumn: null, source },
          ...joinPolicies,
        ],
      };
    },
  },
  {
    key: 'notifications',
    pattern: /\b(notif(y|ies|ied|ications?)|alerts?|alerted|reminders?)\b/i,
    apply: (_template, source) => ({
      tables: [
        {
          name: 'notifications',
          columns: [
            idColumn(),
            createdAt(),
            userColumn('user_id'),
            text('kind', 100, false),
            text('body', 2000),
            column('read_at', 'timestamptz'),
          ],
          indexes: [],
          touchUpdatedAt: false,
          source,
        },
      ],
      // Written by the server (service role); a user reads and marks their own.
      policies: [
        { kind: 'owner_read', table: 'notifications', ownerColumn: 'user_id', source },
        { kind: 'owner_write', table: 'notifications', ownerColumn: 'user_id', commands: ['update'], source },
      ],
    }),
  },
  {
    key: 'analytics',
    pattern: /\b(analytics|dashboards?|metrics|reports?|reporting|stats|statistics|insights?|kpis?|trends?)\b/i,
    apply: () => ({ enableAnalytics: true }),
  },
  {
    key: 'drift',
    pattern: /\b(drift|monitor(s|ed|ing)?|audit(s|ed|ing)?|compliance|watch for changes|tamper\w*)\b/i,
    apply: () => ({ enableDriftSentinel: true }),
  },
];

/** Asked for, understood, and not something this system builds: reported with a reason. */
export const UNSUPPORTED: Array<{ pattern: RegExp; note: string }> = [
  {
    pattern: /\b(payments?|pay|stripe|paypal|credit cards?|billing|invoices?|subscriptions?)\b/i,
    note: 'payments need a payment provider; not planned (orders record amounts only)',
  },
  { pattern: /\b(videos?|streaming|live ?streams?|webcams?)\b/i, note: 'video hosting or streaming is not planned' },
  {
    pattern: /\b(emails?|sms|text messages|push notifications?|newsletters?)\b/i,
    note: 'sending email, SMS or push is not planned',
  },
  { pattern: /\b(maps?|geo\w*|locations?|gps|nearby)\b/i, note: 'geolocation is not planned' },
  {
    pattern: /\b(ai|machine learning|recommendations?|recommend)\b/i,
    note: 'recommendation or AI features are not planned',
  },
];
