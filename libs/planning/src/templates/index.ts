import type { Template } from '@vibe/contracts';
import { MARKETPLACE } from './marketplace.js';
import { SAAS } from './saas.js';
import type { TemplateDefinition } from './template.js';

export function templateDefinition(name: Template): TemplateDefinition {
  switch (name) {
    case 'marketplace':
      return MARKETPLACE;
    case 'saas':
      return SAAS;
    default: {
      const unknown: never = name;
      throw new Error(`unknown template "${String(unknown)}"`);
    }
  }
}
