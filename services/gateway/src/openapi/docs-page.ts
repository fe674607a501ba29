import { createHash } from 'node:crypto';
import type { JsonSchema, OpenApiDocument, OpenApiOperation } from './openapi.document.js';

/**
 * `GET /docs`: the OpenAPI document rendered on the server as one HTML page. No script, nothing from a CDN;
 * its one style block is allowed by hash, so the page's policy forbids everything else.
 */

const STYLE = `
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 70rem; padding: 1rem 2rem; color: #1d1f21; }
h1 { margin-bottom: 0; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.5rem; }
nav ul { columns: 2; } code, pre { font: 13px/1.4 ui-monospace, monospace; }
pre { background: #f5f5f5; padding: .6rem; overflow-x: auto; max-height: 24rem; }
section.op { border: 1px solid #ddd; border-radius: 6px; margin: 1rem 0; padding: .2rem 1rem 1rem; }
.method { display: inline-block; min-width: 3.5rem; font-weight: 700; text-transform: uppercase; }
.get { color: #0b6bcb; } .post { color: #15803d; } .delete { color: #b91c1c; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid #eee; padding: .3rem .5rem; text-align: left; vertical-align: top; }
`;

export const DOCS_STYLE_HASH = `sha256-${createHash('sha256').update(STYLE).digest('base64')}`;

/** The page's Content-Security-Policy: its own style block, nothing else. */
export const DOCS_CSP = [
  "default-src 'none'",
  `style-src '${DOCS_STYLE_HASH}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ENTITIES[char]!);
}

/** Inline `code` spans of the document's prose, after escaping. */
function prose(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function schemaLabel(schema: JsonSchema | undefined): string {
  if (!schema) return '';
  const ref = schema.$ref;
  if (typeof ref === 'string') {
    const name = ref.replace('#/components/schemas/', '');
    return `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
  }
  if (schema.type === 'array' && typeof schema.items === 'object' && schema.items !== null) {
    return `array of ${schemaLabel(schema.items as JsonSchema)}`;
  }
  return `<code>${escapeHtml(JSON.stringify(schema))}</code>`;
}

function renderOperation(method: string, path: string, op: OpenApiOperation): string {
  const parts = [
    `<section class="op" id="${escapeHtml(op.operationId)}">`,
    `<h3><span class="method ${escapeHtml(method)}">${escapeHtml(method)}</span> <code>${escapeHtml(path)}</code></h3>`,
    `<p>${prose(op.summary)}</p>`,
  ];
  if (op.description) parts.push(`<p>${prose(op.description)}</p>`);
  if (op.security && op.security.length > 0) {
    parts.push(
      `<p>Authorization, any one of: ${op.security.map((s) => `<code>${escapeHtml(Object.keys(s).join(', '))}</code>`).join(', ')}</p>`,
    );
  }
  if (op.parameters?.length) {
    parts.push(
      '<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th><th>description</th></tr>',
    );
    for (const p of op.parameters) {
      parts.push(
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td>` +
          `<td>${schemaLabel(p.schema)}</td><td>${prose(p.description)}</td></tr>`,
      );
    }
    parts.push('</table>');
  }
  if (op.requestBody) {
    const [type, media] = Object.entries(op.requestBody.content)[0]!;
    parts.push(
      `<h4>Body</h4><p>${prose(op.requestBody.description)}: <code>${escapeHtml(type)}</code> ${schemaLabel(media.schema)}</p>`,
    );
  }
  parts.push('<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th></tr>');
  for (const [status, res] of Object.entries(op.responses)) {
    const bodies = Object.entries(res.content ?? {})
      .map(([type, media]) => `<code>${escapeHtml(type)}</code> ${schemaLabel(media.schema)}`)
      .join('<br>');
    const headers = Object.keys(res.headers ?? {})
      .map((name) => `<br>header <code>${escapeHtml(name)}</code>`)
      .join('');
    parts.push(`<tr><td>${escapeHtml(status)}</td><td>${prose(res.description)}</td><td>${bodies}${headers}</td></tr>`);
  }
  parts.push('</table></section>');
  return parts.join('\n');
}

export function renderDocsPage(doc: OpenApiDocument): string {
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ path, method, op })),
  );
  const sections = doc.tags.map((tag) => {
    const ops = operations.filter(({ op }) => op.tags.includes(tag.name));
    return `<h2 id="tag-${escapeHtml(tag.name)}">${escapeHtml(tag.name)}</h2><p>${prose(tag.description)}</p>\n${ops
      .map(({ method, path, op }) => renderOperation(method, path, op))
      .join('\n')}`;
  });
  const toc = operations
    .map(
      ({ method, path, op }) =>
        `<li><a href="#${escapeHtml(op.operationId)}">${escapeHtml(method.toUpperCase())} ${escapeHtml(path)}</a></li>`,
    )
    .join('');
  const schemas = Object.entries(doc.components.schemas)
    .map(
      ([name, schema]) =>
        `<h3 id="schema-${escapeHtml(name)}">${escapeHtml(name)}</h3><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)} API</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(doc.info.title)}</h1>
<p>Version ${escapeHtml(doc.info.version)}, OpenAPI ${escapeHtml(doc.openapi)}: <a href="/openapi.json">/openapi.json</a></p>
<p>${prose(doc.info.description)}</p>
<nav><ul>${toc}</ul></nav>
${sections.join('\n')}
<h2 id="schemas">Schemas</h2>
${schemas}
</body>
</html>
`;
}
