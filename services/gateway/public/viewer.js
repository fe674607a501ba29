// The build viewer: starts a build, then follows it on the Realtime channel build:{sessionId} with supabase-js
// (served by this gateway from node_modules), and catches up from GET /events?after= whenever it (re)joins.
// Everything from the server is shown with textContent, never parsed as HTML.

const AUDIT_TYPES = new Set(['provisioner_call', 'mcp_call']);
const FINAL_TYPES = new Set(['build_succeeded', 'build_failed', 'build_canceled']);

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'className') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const config = await fetch('/config.json').then((response) => response.json());
const client = window.supabase.createClient(config.realtime.url, config.realtime.apiKey, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
});

/**
 * Who the page is signed in as: POST /sessions needs a user's JWT. Locally (DEV_TOKENS on the gateway, which it
 * allows only with the local JWT secret) the "local dev sign-in" asks the gateway for a token of the local
 * development user. The token lives in this page's memory only. A share link needs no sign-in.
 */
const auth = { token: null, userId: null };

function apiHeaders(extra = {}) {
  const headers = { ...extra };
  if (auth.token) headers.authorization = `Bearer ${auth.token}`;
  if (build.shareToken) headers['x-share-token'] = build.shareToken;
  return headers;
}

if (config.auth?.devTokens) {
  $('sign-in').hidden = false;
  $('dev-sign-in').hidden = false;
  $('dev-sign-in').addEventListener('click', () => void devSignIn());
} else if (!config.auth?.anonymousBuilds) {
  $('sign-in').hidden = false;
}

async function devSignIn() {
  const response = await fetch('/auth/dev-token', { method: 'POST' });
  const body = await response.json();
  if (!response.ok) {
    $('form-error').textContent = `Sign-in failed: ${body.message ?? `HTTP ${response.status}`}`;
    $('form-error').hidden = false;
    return;
  }
  Object.assign(auth, { token: body.accessToken, userId: body.user.id });
  $('signed-in-as').textContent = `Signed in as the local dev user (${body.user.id}).`;
  $('dev-sign-in').hidden = true;
  $('form-error').hidden = true;
}

/** One followed build. */
const build = {
  sessionId: null,
  shareToken: null,
  channel: null,
  events: new Map(),
  cursor: null,
  startedAt: null,
  finished: false,
};

$('vibe-form').addEventListener('submit', (submit) => {
  submit.preventDefault();
  void start();
});
$('show-audit').addEventListener('change', (change) => {
  document.body.classList.toggle('show-audit', change.target.checked);
});

async function start() {
  const button = $('build-button');
  button.disabled = true;
  $('form-error').hidden = true;
  try {
    if (!auth.token && !config.auth?.anonymousBuilds) {
      throw new Error(config.auth?.devTokens ? 'sign in first (Local dev sign-in)' : 'sign in first');
    }
    const response = await fetch('/sessions', {
      method: 'POST',
      headers: { ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}), 'content-type': 'application/json' },
      body: JSON.stringify({
        vibeText: $('vibe').value,
        template: $('template').value,
        options: { enableAnalytics: $('analytics').checked },
      }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`);
    follow(body.sessionId, body.shareToken);
  } catch (error) {
    $('form-error').textContent = `The build could not start: ${error.message}`;
    $('form-error').hidden = false;
    button.disabled = false;
  }
}

function follow(sessionId, shareToken) {
  Object.assign(build, { sessionId, shareToken, events: new Map(), cursor: null, finished: false });
  $('build').hidden = false;
  $('summary').hidden = true;
  $('timeline').replaceChildren();
  $('session-id').textContent = sessionId;
  setStatus('connecting');
  if (shareToken) {
    const link = $('share-link');
    link.href = `/?session=${encodeURIComponent(sessionId)}#share=${encodeURIComponent(shareToken)}`;
    link.hidden = false;
  }

  const channel = client.channel(`build:${sessionId}`, { config: { private: true } });
  // The share token rides in the join payload; a signed-in owner's JWT is sent as access_token by supabase-js.
  if (shareToken) channel.updateJoinPayload({ share_token: shareToken });
  channel
    .on('broadcast', { event: '*' }, ({ event, payload }) => {
      if (event === 'architect_presence') showPresence(payload);
      else addEvent(payload);
    })
    .on('presence', { event: 'sync' }, () => {
      const [architect] = channel.presenceState().architect ?? [];
      showPresence(architect ?? null);
    })
    .subscribe((status, error) => {
      if (status === 'SUBSCRIBED') {
        if (!build.finished) setStatus('live');
        void catchUp();
      } else if (status === 'CHANNEL_ERROR') {
        setStatus(`not allowed: ${error?.message ?? 'channel error'}`);
      } else if (status === 'TIMED_OUT') {
        setStatus('reconnecting');
      }
    });
  build.channel = channel;
}

/** Whatever was published before we joined (or while we were away), in order, from the cursor on. */
async function catchUp() {
  const sessionId = build.sessionId;
  for (;;) {
    const after = build.cursor ? `&after=${encodeURIComponent(build.cursor)}` : '';
    const response = await fetch(`/events?session_id=${encodeURIComponent(sessionId)}${after}&limit=500`, {
      headers: apiHeaders(),
    });
    if (!response.ok || sessionId !== build.sessionId) return;
    const events = await response.json();
    for (const event of events) addEvent(event);
    const next = response.headers.get('x-next-cursor');
    if (next) build.cursor = next;
    if (events.length < 500) return;
  }
}

function addEvent(event) {
  if (event.sessionId !== build.sessionId || build.events.has(event.id)) return;
  build.events.set(event.id, event);
  if (event.cursor) build.cursor = event.cursor;
  build.startedAt ??= Date.parse(event.ts);
  const audit = AUDIT_TYPES.has(event.type);
  const seconds = ((Date.parse(event.ts) - build.startedAt) / 1000).toFixed(2);
  const item = el('li', { className: audit ? 'audit' : 'step', 'data-type': event.type, 'data-ts': event.ts }, [
    el('span', { className: 'when', text: `+${seconds}s` }),
    el('span', { className: 'type', text: event.type }),
    el('span', { className: 'message', text: event.message }),
  ]);
  if (event.payload?.table) item.dataset.table = event.payload.table;
  insertInOrder($('timeline'), item, event.ts);
  $('audit-count').textContent = String([...build.events.values()].filter((e) => AUDIT_TYPES.has(e.type)).length);
  if (FINAL_TYPES.has(event.type) && !build.finished) void finish(event);
}

/** Timeline order is time order; events that arrive late (a catch-up) slot in where they belong. */
function insertInOrder(list, item, ts) {
  let before = null;
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    if (node.dataset.ts <= ts) break;
    before = node;
  }
  list.insertBefore(item, before);
  if (!before) list.scrollTop = list.scrollHeight;
}

function showPresence(presence) {
  if (!presence) return;
  const percent = Math.round(Math.min(1, Math.max(0, presence.progress)) * 100);
  $('progress-fill').style.width = `${percent}%`;
  $('progress-label').textContent = `${percent}%`;
  $('progress').setAttribute('aria-valuenow', String(percent));
  $('ghost-step').textContent = presence.step.replaceAll('_', ' ');
  const focus = $('ghost-focus');
  focus.hidden = !presence.focus;
  focus.textContent = presence.focus ? `${presence.focus.type} ${presence.focus.name}` : '';
  for (const item of $('timeline').querySelectorAll('li.focused')) item.classList.remove('focused');
  if (presence.focus?.type === 'table') {
    for (const item of $('timeline').querySelectorAll('li')) {
      if (item.dataset.table === presence.focus.name) item.classList.add('focused');
    }
  }
}

async function finish(finalEvent) {
  build.finished = true;
  const response = await fetch(`/sessions?id=${encodeURIComponent(build.sessionId)}`, { headers: apiHeaders() });
  const session = response.ok ? await response.json() : null;
  const status = session?.status ?? finalEvent.type.replace('build_', '');
  setStatus(status);
  renderSummary(session, finalEvent);
  $('build-button').disabled = false;
}

function setStatus(text) {
  const status = $('status');
  status.textContent = text;
  status.className = `status ${text}`;
  document.body.dataset.buildStatus = text;
}

function renderSummary(session, finalEvent) {
  const body = $('summary-body');
  body.replaceChildren();
  const outputs = session?.outputs ?? null;
  if (session?.error || finalEvent.type !== 'build_succeeded') {
    body.append(el('p', { className: 'error', text: session?.error ?? finalEvent.message }));
  }
  if (outputs) {
    if (outputs.tables?.length) {
      body.append(el('h3', { text: `Tables (${outputs.tables.length})` }));
      body.append(
        table(
          ['table', 'row-level security'],
          outputs.tables.map((t) => [t.name, yesNo(t.rlsEnabled, 'on', 'OFF')]),
          'tables-table',
        ),
      );
    }
    if (outputs.policies?.length) {
      body.append(el('h3', { text: `Policies (${outputs.policies.length})` }));
      body.append(
        table(
          ['table', 'policy', 'command', 'roles'],
          outputs.policies.map((p) => [p.table, p.name, p.command, (p.roles ?? []).join(', ')]),
          'policies-table',
        ),
      );
    }
    if (outputs.verification !== undefined) {
      body.append(el('h3', { text: 'Verification' }));
      body.append(verification(outputs.verification));
    }
    if (outputs.functions?.length) {
      body.append(el('h3', { text: 'Functions' }));
      body.append(
        el(
          'ul',
          {},
          outputs.functions.map((name) => el('li', {}, [el('code', { text: String(name) })])),
        ),
      );
    }
    if (outputs.analytics?.configured) {
      body.append(
        el('p', { text: `Analytics: ${outputs.analytics.rowCount} row(s) from ${outputs.analytics.provenance}` }),
      );
    }
    if (outputs.deferred?.length) {
      body.append(el('h3', { text: 'Not yet' }));
      body.append(
        el(
          'ul',
          {},
          outputs.deferred.map((note) => el('li', { text: note })),
        ),
      );
    }
  }
  $('summary').hidden = false;
}

/** The verification report (outputs.verification): the executed access matrix, then anything else as JSON. */
function verification(value) {
  if (Array.isArray(value?.matrix?.cells)) return accessMatrix(value);
  const rows = Array.isArray(value) ? value : null;
  if (rows && rows.every((row) => row && typeof row === 'object')) {
    const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
    return table(
      columns,
      rows.map((row) => columns.map((column) => cell(row[column]))),
    );
  }
  return el('pre', { className: 'mono', text: JSON.stringify(value, null, 2) });
}

const ACTORS = ['anon', 'owner', 'other', 'service_role'];

/** One row per table and operation, one column per actor: what happened, and whether it was what the plan says. */
function accessMatrix(report) {
  const cells = report.matrix.cells;
  const box = el('div', { id: 'verification' });
  const verdict = report.passed
    ? `Passed: ${cells.length} access checks as planned, RLS on every table, no ERROR lint.`
    : `Failed: ${report.failures.length} problem(s).`;
  box.append(el('p', { className: report.passed ? 'yes' : 'no', text: verdict }));
  if (report.failures?.length)
    box.append(
      el(
        'ul',
        {},
        report.failures.map((failure) => el('li', { text: failure })),
      ),
    );
  const actors = ACTORS.filter((actor) => cells.some((c) => c.actor === actor));
  const rows = new Map();
  for (const c of cells) {
    const key = `${c.subject} ${c.operation}`;
    if (!rows.has(key)) rows.set(key, { subject: c.subject, operation: c.operation, byActor: new Map() });
    rows.get(key).byActor.set(c.actor, c);
  }
  box.append(
    table(
      ['table', 'operation', ...actors],
      [...rows.values()].map((row) => [
        row.subject,
        row.operation,
        ...actors.map((actor) => {
          const c = row.byActor.get(actor);
          if (!c) return '';
          const ok = c.actual === c.expected;
          return {
            text: ok ? `${c.actual} ✓` : `${c.actual} ✗ (expected ${c.expected})`,
            className: ok ? 'yes' : 'no',
          };
        }),
      ]),
    ),
  );
  const lints = report.lints;
  if (lints) {
    box.append(
      el('p', { text: `Security advisor: ${lints.errors.length} error(s), ${lints.warnings.length} warning(s).` }),
    );
  }
  return box;
}

function cell(value) {
  if (typeof value === 'boolean') return yesNo(value, 'yes', 'no');
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function yesNo(ok, yes, no) {
  return { text: ok ? yes : no, className: ok ? 'yes' : 'no' };
}

function table(headers, rows, id) {
  const head = el(
    'tr',
    {},
    headers.map((h) => el('th', { text: h })),
  );
  const lines = rows.map((row) =>
    el(
      'tr',
      {},
      row.map((value) =>
        typeof value === 'object'
          ? el('td', { text: value.text, className: value.className })
          : el('td', { text: value }),
      ),
    ),
  );
  return el('table', id ? { id } : {}, [el('thead', {}, [head]), el('tbody', {}, lines)]);
}

// A shared link (/?session=<id>#share=<token>) follows that build at once.
const shared = new URLSearchParams(location.search).get('session');
const token = new URLSearchParams(location.hash.slice(1)).get('share');
if (shared && token) {
  $('compose').hidden = true;
  follow(shared, token);
}
