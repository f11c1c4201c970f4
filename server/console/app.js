// Switchyard console (docs/api.md#console): a single page on the HTTP API. The token lives in
// sessionStorage and goes in the Authorization header, never in a URL. Everything shown is
// built with textContent (flag keys, reasons and audit entries are data, never markup).
// Controls a role may not use are not shown; the server refuses them anyway.

const ROLES = ['sdk', 'viewer', 'responder', 'editor', 'admin'];
const STAGES = [0, 5, 25, 50, 100];
const state = { token: sessionStorage.getItem('switchyard-token'), me: null, flags: [], global: null, stream: null };

const $ = (id) => document.getElementById(id);
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') node.textContent = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
    else if (k in node && k !== 'role') node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) node.append(c);
  return node;
}
const may = (role) => state.me && ROLES.indexOf(state.me.role) >= ROLES.indexOf(role);

class ApiError extends Error {
  constructor(status, body) { super(body?.detail || `HTTP ${status}`); this.status = status; this.body = body; }
}
async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${state.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

// ---- sign in / out -------------------------------------------------------------------
async function signIn(token) {
  state.token = token;
  try {
    state.me = await api('GET', '/v1/me');
  } catch (e) {
    state.token = null;
    throw e;
  }
  sessionStorage.setItem('switchyard-token', token);
}
function signOut() {
  sessionStorage.removeItem('switchyard-token');
  state.stream?.abort();
  location.hash = '';
  location.reload();
}

// ---- data and live updates -----------------------------------------------------------
async function loadFlags() {
  const list = await api('GET', '/v1/flags');
  state.flags = list.flags;
  state.global = list.global_kill_switch;
  renderChrome();
}

async function follow() {
  // EventSource cannot send a bearer header: the stream is read with fetch.
  state.stream = new AbortController();
  try {
    const res = await fetch('/v1/stream', { headers: { Authorization: `Bearer ${state.token}` }, signal: state.stream.signal });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let at;
      while ((at = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        if (event.startsWith('event: snapshot')) await refresh();
      }
    }
  } catch (e) {
    if (e.name === 'AbortError') return;
  }
  setTimeout(follow, 1000);
}

async function refresh() {
  await loadFlags();
  // Re-render the page unless someone is typing in it.
  const active = document.activeElement;
  const typing = active && (active.tagName === 'TEXTAREA' || (active.tagName === 'INPUT' && active.type !== 'range' && active.type !== 'checkbox'));
  if (!typing && !$('kill-dialog').open) await route();
}

// ---- chrome: header and banner ---------------------------------------------------------
function renderChrome() {
  $('top').hidden = false;
  $('who').textContent = `${state.me.name} (${state.me.role})`;
  const on = state.global?.active;
  $('global-kill').hidden = !may('responder') || on;
  $('global-lift').hidden = !may('responder') || !on;
  const slot = $('banner-slot');
  slot.replaceChildren();
  if (on) {
    slot.append(el('div', { role: 'alert', 'aria-label': 'Global kill switch is ON', text: 'Global kill switch is ON' }));
    slot.append(el('p', { id: 'banner-reason', text: `Every flag is off for everyone. Set by ${state.global.set_by || '?'}: ${state.global.reason || 'no reason given'}` }));
  }
}

// ---- kill dialog ---------------------------------------------------------------------------
function askReason(what) {
  return new Promise((resolve) => {
    const dialog = $('kill-dialog');
    $('kill-what').textContent = what;
    $('kill-reason').value = '';
    const done = (reason) => { dialog.close(); resolve(reason); };
    $('kill-form').onsubmit = (e) => {
      e.preventDefault();
      const reason = $('kill-reason').value.trim();
      if (reason) done(reason);
    };
    $('kill-cancel').onclick = () => done(null);
    dialog.showModal();
    $('kill-reason').focus();
  });
}

// ---- pages -----------------------------------------------------------------------------------
function page(...children) { $('main').replaceChildren(...children); }

function flagsPage() {
  const search = el('input', { id: 'search', type: 'text', placeholder: 'key, market…' });
  const body = el('tbody');
  const fill = () => {
    const q = search.value.trim().toLowerCase();
    body.replaceChildren(...state.flags
      .filter((f) => !q || f.key.toLowerCase().includes(q) || (f.markets || []).some((m) => m.toLowerCase() === q))
      .map((f) => el('tr', {},
        el('td', {}, el('a', { href: `#/flags/${encodeURIComponent(f.key)}`, text: f.key })),
        el('td', { className: f.enabled ? 'on' : 'muted', text: f.enabled ? 'on' : 'off' }),
        el('td', { text: `${f.rollout_percentage} %` }),
        el('td', { text: (f.markets || []).join(', ') || 'all' }),
        el('td', { text: String((f.whitelist || []).length) }),
        el('td', { className: f.kill_switch ? 'killed' : 'muted', text: f.kill_switch ? 'KILLED' : '–' }),
        el('td', { text: `v${f.version}` }),
        el('td', { text: f.plan ? `${f.plan.state}, stage ${f.plan.stage + 1}/${f.plan.stages.length}` : '–' }))));
  };
  search.addEventListener('input', fill);
  fill();
  page(el('section', { className: 'card' },
    el('h1', { text: 'Flags' }),
    el('div', { className: 'row' }, el('label', { htmlFor: 'search', text: 'Search' }), search),
    el('div', { className: 'table-wrap' }, el('table', { 'aria-label': 'Flags' },
      el('thead', {}, el('tr', {}, ...['Key', 'State', 'Rollout', 'Markets', 'Whitelist', 'Kill switch', 'Version', 'Plan'].map((h) => el('th', { text: h })))),
      body))));
}

/// Sends `change` to flag `key` at the version shown; a 409 is shown plainly with a retry.
async function change(flag, patch, note) {
  try {
    await api('PATCH', `/v1/flags/${encodeURIComponent(flag.key)}`, { ...patch, expected_version: flag.version });
    note.replaceChildren();
    await refresh();
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 409) {
      const problems = e.body?.problems?.map((p) => `${p.field}: ${p.message}`).join('; ');
      note.replaceChildren(el('p', { className: 'notice', text: problems || e.message }));
      return;
    }
    const now = await api('GET', `/v1/flags/${encodeURIComponent(flag.key)}`);
    note.replaceChildren(el('div', { className: 'notice' },
      el('p', { text: `Changed by ${now.updated_by || '?'} to v${now.version} meanwhile: now ${now.enabled ? 'on' : 'off'} at ${now.rollout_percentage} %, ${now.kill_switch ? 'killed' : 'not killed'}. Your change was not applied.` }),
      el('button', { type: 'button', text: 'Retry', on: { click: () => change(now, patch, note) } })));
  }
}

async function flagPage(key) {
  const flag = state.flags.find((f) => f.key === key);
  if (!flag) { page(el('p', { className: 'card', text: `No flag ${key}.` })); return; }
  const note = el('div', { id: 'conflict', role: 'status' });
  const parts = [el('h1', { text: flag.key }), el('p', { className: 'muted', text: flag.description || '' }),
    el('p', {}, el('span', { className: flag.kill_switch ? 'killed' : (flag.enabled ? 'on' : 'muted'), text: flag.kill_switch ? 'KILLED' : (flag.enabled ? 'on' : 'off') }),
      ` · ${flag.rollout_percentage} % · markets: ${(flag.markets || []).join(', ') || 'all'} · whitelist: ${(flag.whitelist || []).length} · v${flag.version}`), note];
  if (may('responder')) {
    const kill = flag.kill_switch
      ? el('button', { type: 'button', className: 'big', text: 'Lift kill switch', on: { click: async () => { await api('POST', `/v1/flags/${encodeURIComponent(flag.key)}/kill`, { active: false }); await refresh(); } } })
      : el('button', { type: 'button', className: 'danger big', text: 'Kill switch', on: { click: async () => {
        const reason = await askReason(`Turn ${flag.key} off for everyone, at once.`);
        if (reason) { await api('POST', `/v1/flags/${encodeURIComponent(flag.key)}/kill`, { active: true, reason }); await refresh(); }
      } } });
    parts.push(el('section', { className: 'card' }, el('h2', { text: 'Kill switch' }), kill));
  }
  if (may('editor')) {
    const enabled = el('input', { id: 'enabled', type: 'checkbox', checked: flag.enabled, on: { change: (e) => change(flag, { enabled: e.target.checked }, note) } });
    const shown = el('output', { id: 'rollout-shown', text: `${flag.rollout_percentage} %` });
    const slider = el('input', { id: 'rollout', type: 'range', min: 0, max: 100, step: 1, value: flag.rollout_percentage, 'aria-label': 'Rollout percentage',
      on: { input: (e) => { shown.textContent = `${e.target.value} %`; }, change: (e) => change(flag, { rollout_percentage: Number(e.target.value) }, note) } });
    const stages = STAGES.map((p) => el('button', { type: 'button', text: `${p} %`, on: { click: () => {
      if (p === 100 && !confirm(`Roll ${flag.key} out to 100 % of users?`)) return;
      change(flag, { rollout_percentage: p }, note);
    } } }));
    const markets = el('input', { id: 'markets', type: 'text', value: (flag.markets || []).join(', ') });
    const users = el('textarea', { id: 'users', rows: 3, placeholder: 'user ids, separated by spaces, commas or lines' });
    const description = el('input', { id: 'description', type: 'text', value: flag.description || '' });
    parts.push(el('section', { className: 'card' }, el('h2', { text: 'Targeting' }),
      el('div', { className: 'row' }, enabled, el('label', { htmlFor: 'enabled', text: 'Enabled' })),
      el('div', { className: 'row' }, slider, shown), el('div', { className: 'row' }, ...stages),
      el('label', { htmlFor: 'markets', text: 'Markets' }), el('div', { className: 'row' }, markets,
        el('button', { type: 'button', text: 'Save markets', on: { click: () => change(flag, { markets: markets.value.split(/[\s,]+/).filter(Boolean) }, note) } })),
      el('label', { htmlFor: 'users', text: 'Add to whitelist' }), users,
      el('div', { className: 'row' }, el('button', { type: 'button', text: 'Add users', on: { click: () => change(flag, { whitelist_add: users.value.split(/[\s,]+/).filter(Boolean) }, note) } })),
      el('label', { htmlFor: 'description', text: 'Description' }), el('div', { className: 'row' }, description,
        el('button', { type: 'button', text: 'Save description', on: { click: () => change(flag, { description: description.value }, note) } }))));
  }
  if (may('editor')) parts.push(variantsSection(flag, note));
  parts.push(rulesSection(flag, note));
  if (flag.plan) parts.push(await planSection(flag));
  parts.push(evaluateSection(flag), await historySection(flag));
  page(el('section', {}, ...parts));
}

async function planSection(flag) {
  const plan = await api('GET', `/v1/flags/${encodeURIComponent(flag.key)}/plan`);
  const left = plan.hold_left_ms == null ? '' : `, ${Math.ceil(plan.hold_left_ms / 60000)} min of hold left`;
  const act = (action) => el('button', { type: 'button', text: action[0].toUpperCase() + action.slice(1) + ' plan', on: { click: async () => { await api('POST', `/v1/flags/${encodeURIComponent(flag.key)}/plan/${action}`, {}); await refresh(); } } });
  return el('section', { className: 'card' }, el('h2', { text: 'Release plan' }),
    el('p', { text: `${plan.state}: stage ${plan.stage + 1} of ${plan.stages.length} at ${plan.rollout_percentage} %${left}${plan.tripped_by ? `; tripped by guard ${plan.tripped_by.guard}: ${plan.tripped_by.value} above ${plan.tripped_by.threshold}` : ''}` }),
    el('ul', {}, ...plan.guards.map((g) => el('li', { text: `${g.name}: ${g.status}${g.value == null ? '' : ` (${g.value})`}, trips above ${g.above}` }))),
    may('editor') ? el('div', { className: 'row' }, ...(plan.state === 'running' ? ['pause', 'abort'] : plan.state === 'paused' || plan.state === 'tripped' ? ['resume', 'abort'] : []).map(act)) : null);
}

/// `name=value` lines as context attributes.
function attributesOf(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

function evaluateSection(flag) {
  const user = el('input', { id: 'eval-user', type: 'text' });
  const market = el('input', { id: 'eval-market', type: 'text' });
  const attributes = el('textarea', { id: 'eval-attributes', rows: 3, placeholder: 'plan=beta\napp_version=2.4.0' });
  const out = el('p', { role: 'status', id: 'eval-result' });
  return el('section', { className: 'card' }, el('h2', { text: 'Evaluate' }),
    el('label', { htmlFor: 'eval-user', text: 'User' }), user,
    el('label', { htmlFor: 'eval-market', text: 'Market' }), market,
    el('label', { htmlFor: 'eval-attributes', text: 'Attributes' }), attributes,
    el('div', { className: 'row' }, el('button', { type: 'button', text: 'Evaluate', on: { click: async () => {
      const context = attributesOf(attributes.value);
      if (user.value.trim()) context.user_id = user.value.trim();
      if (market.value.trim()) context.market = market.value.trim();
      try {
        const d = await api('POST', '/v1/evaluate', { flag: flag.key, context });
        const served = (flag.variants || []).length ? ` · value ${JSON.stringify(d.value)} · variant ${d.variant}` : '';
        const rule = d.rule ? ` · rule ${JSON.stringify(d.rule)}` : '';
        out.textContent = `${d.enabled ? 'ON' : 'OFF'}${served}${rule} (${d.reason}, v${d.version ?? '?'})`;
      } catch (e) { out.textContent = e.message; }
    } } })), out);
}

// ---- values, rules, segments -----------------------------------------------------------------
/// A constraint written `ATTRIBUTE OPERATOR VALUES` (`!OPERATOR` inverted), as the CLI takes it.
const LIST_OPERATORS = ['IN', 'NOT_IN', 'STR_CONTAINS', 'STR_STARTS_WITH', 'STR_ENDS_WITH'];
function constraintOf(line) {
  const [attribute, operator, ...rest] = line.trim().split(/\s+/);
  if (!attribute || !operator || !rest.length) throw new Error(`"${line.trim()}": write a constraint as ATTRIBUTE OPERATOR VALUES`);
  const inverted = operator.startsWith('!');
  const op = (inverted ? operator.slice(1) : operator).toUpperCase();
  const values = rest.join(' ');
  const c = { attribute, operator: op };
  if (LIST_OPERATORS.includes(op)) c.values = values.split(',').map((v) => v.trim()); else c.value = values;
  if (inverted) c.inverted = true;
  return c;
}
const constraintsOf = (text) => text.split('\n').filter((l) => l.trim()).map(constraintOf);
function constraintsText(constraints) {
  return (constraints || []).map((c) => `${c.attribute} ${c.inverted ? '!' : ''}${c.operator} ${c.value ?? (c.values || []).join(',')}`).join(' and ') || 'everyone';
}

/// The flag's variants: values and weight sliders that keep the sum at 1000.
function variantsSection(flag, note) {
  const rows = (flag.variants || []).map((v) => ({ ...v, value: JSON.stringify(v.value) }));
  const list = el('div', { id: 'variants' });
  const off = el('input', { id: 'off-value', type: 'text', value: flag.off_value === undefined ? '' : JSON.stringify(flag.off_value) });
  const rebalance = (moved) => {
    // The other variants share what is left, in proportion to their weights (equally when all are 0).
    const others = rows.filter((_, i) => i !== moved);
    if (!others.length) { rows[moved].weight = 1000; return; }
    const left = 1000 - rows[moved].weight;
    const total = others.reduce((n, r) => n + r.weight, 0);
    let given = 0;
    others.forEach((r, i) => {
      r.weight = i === others.length - 1 ? left - given : Math.round(total ? (left * r.weight) / total : left / others.length);
      given += r.weight;
    });
  };
  const draw = () => {
    list.replaceChildren(...rows.map((r, i) => {
      const n = i + 1;
      const shown = el('output', { text: `${r.weight / 10} %` });
      return el('div', { className: 'row' },
        el('input', { type: 'text', value: r.name, 'aria-label': `Variant ${n} name`, on: { input: (e) => { r.name = e.target.value; } } }),
        el('input', { type: 'text', value: r.value, 'aria-label': `Variant ${n} value`, on: { input: (e) => { r.value = e.target.value; } } }),
        el('input', { type: 'range', min: 0, max: 1000, step: 10, value: r.weight, 'aria-label': `Variant ${n} weight`,
          on: { input: (e) => { r.weight = Number(e.target.value); rebalance(i); draw(); list.querySelectorAll('input[type=range]')[i].focus(); } } }),
        shown,
        el('button', { type: 'button', text: `Remove variant ${n}`, on: { click: () => { rows.splice(i, 1); if (rows.length) rebalance(0); draw(); } } }));
    }));
  };
  draw();
  const save = () => {
    try {
      const variants = rows.map((r) => ({ name: r.name.trim(), value: JSON.parse(r.value), weight: r.weight }));
      change(flag, { variants, off_value: JSON.parse(off.value) }, note);
    } catch (e) { note.replaceChildren(el('p', { className: 'notice', text: `Not JSON: ${e.message}` })); }
  };
  return el('section', { className: 'card' }, el('h2', { text: 'Variants' }),
    el('p', { className: 'muted', text: 'Values are JSON (a string in quotes). The weights always sum to 100 %.' }),
    list,
    el('div', { className: 'row' },
      el('button', { type: 'button', text: 'Add variant', on: { click: () => { rows.push({ name: `v${rows.length + 1}`, value: '""', weight: rows.length ? 0 : 1000 }); draw(); } } })),
    el('label', { htmlFor: 'off-value', text: 'Off value' }), off,
    el('div', { className: 'row' },
      el('button', { type: 'button', text: 'Save variants', on: { click: save } }),
      el('button', { type: 'button', text: 'Serve on/off only', on: { click: () => change(flag, { variants: [], off_value: null }, note) } })));
}

/// The flag's rules in order, with their constraints and segments; editors move, remove and add.
function rulesSection(flag, note) {
  const rules = flag.rules || [];
  const save = (next) => change(flag, { rules: next }, note);
  const moved = (i, by) => { const next = rules.slice(); const [r] = next.splice(i, 1); next.splice(i + by, 0, r); return next; };
  const body = el('tbody', {}, ...rules.map((r, i) => el('tr', {},
    el('td', { text: String(i + 1) }), el('td', { text: r.name }), el('td', { text: constraintsText(r.constraints) }),
    el('td', { text: (r.segments || []).join(', ') || '–' }), el('td', { text: `${r.rollout_percentage} %` }),
    el('td', { text: r.variant || ((r.variants || []).length ? `own split of ${r.variants.length}` : (flag.variants || []).length ? "flag's split" : 'on') }),
    el('td', {}, may('editor') ? el('div', { className: 'row' },
      i > 0 ? el('button', { type: 'button', text: `Move ${r.name} up`, on: { click: () => save(moved(i, -1)) } }) : null,
      i < rules.length - 1 ? el('button', { type: 'button', text: `Move ${r.name} down`, on: { click: () => save(moved(i, 1)) } }) : null,
      el('button', { type: 'button', text: `Remove rule ${r.name}`, on: { click: () => save(rules.filter((_, j) => j !== i)) } })) : null))));
  const parts = [el('h2', { text: 'Rules' }),
    el('p', { className: 'muted', text: 'Tried in order after the whitelist and the markets; the first that includes a context decides.' }),
    el('div', { className: 'table-wrap' }, el('table', { 'aria-label': 'Rules' },
      el('thead', {}, el('tr', {}, ...['#', 'Rule', 'When', 'Segments', 'Rollout', 'Serves', ''].map((h) => el('th', { text: h })))), body))];
  if (may('editor')) {
    const name = el('input', { id: 'rule-name', type: 'text' });
    const when = el('textarea', { id: 'rule-when', rows: 3, placeholder: 'plan IN beta,staff\napp_version SEMVER_GT 2.2.9' });
    const segments = el('input', { id: 'rule-segments', type: 'text', placeholder: 'beta-testers' });
    const rollout = el('input', { id: 'rule-rollout', type: 'text', value: '100' });
    const variant = el('input', { id: 'rule-variant', type: 'text' });
    parts.push(el('h3', { text: 'Add a rule' }),
      el('label', { htmlFor: 'rule-name', text: 'Rule name' }), name,
      el('label', { htmlFor: 'rule-when', text: 'Rule constraints' }), when,
      el('label', { htmlFor: 'rule-segments', text: 'Rule segments' }), segments,
      el('label', { htmlFor: 'rule-rollout', text: 'Rule rollout percentage' }), rollout,
      el('label', { htmlFor: 'rule-variant', text: 'Rule variant' }), variant,
      el('div', { className: 'row' }, el('button', { type: 'button', text: 'Add rule', on: { click: () => {
        try {
          const rule = { name: name.value.trim(), constraints: constraintsOf(when.value), rollout_percentage: Number(rollout.value) };
          const keys = segments.value.split(/[\s,]+/).filter(Boolean);
          if (keys.length) rule.segments = keys;
          if (variant.value.trim()) rule.variant = variant.value.trim();
          save([...rules, rule]);
        } catch (e) { note.replaceChildren(el('p', { className: 'notice', text: e.message })); }
      } } })));
  }
  return el('section', { className: 'card' }, ...parts);
}

async function segmentsPage() {
  const { segments } = await api('GET', '/v1/segments');
  const note = el('div', { role: 'status', id: 'segment-note' });
  const shown = (e) => note.replaceChildren(el('p', { className: 'notice', text: e.body?.problems?.map((p) => `${p.field}: ${p.message}`).join('; ') || e.message }));
  const body = el('tbody', {}, ...segments.map((s) => el('tr', {},
    el('td', { text: s.key }), el('td', { text: constraintsText(s.constraints) }), el('td', { text: s.description || '' }), el('td', { text: `v${s.version}` }),
    el('td', {}, may('editor') ? el('button', { type: 'button', text: `Delete segment ${s.key}`, on: { click: async () => {
      try { await api('DELETE', `/v1/segments/${encodeURIComponent(s.key)}`, { expected_version: s.version }); await segmentsPage(); } catch (e) { shown(e); }
    } } }) : null))));
  const parts = [el('h1', { text: 'Segments' }), note,
    el('div', { className: 'table-wrap' }, el('table', { 'aria-label': 'Segments' },
      el('thead', {}, el('tr', {}, ...['Key', 'When', 'Description', 'Version', ''].map((h) => el('th', { text: h })))), body))];
  if (may('editor')) {
    const key = el('input', { id: 'segment-key', type: 'text' });
    const when = el('textarea', { id: 'segment-when', rows: 3, placeholder: 'plan IN beta,staff' });
    const description = el('input', { id: 'segment-description', type: 'text' });
    parts.push(el('h2', { text: 'Create or replace a segment' }),
      el('label', { htmlFor: 'segment-key', text: 'Segment key' }), key,
      el('label', { htmlFor: 'segment-when', text: 'Segment constraints' }), when,
      el('label', { htmlFor: 'segment-description', text: 'Segment description' }), description,
      el('div', { className: 'row' }, el('button', { type: 'button', text: 'Save segment', on: { click: async () => {
        try {
          const current = segments.find((s) => s.key === key.value.trim());
          const body = { description: description.value, constraints: constraintsOf(when.value) };
          if (current) body.expected_version = current.version;
          await api('PUT', `/v1/segments/${encodeURIComponent(key.value.trim())}`, body);
          await segmentsPage();
        } catch (e) { shown(e); }
      } } })));
  }
  page(el('section', { className: 'card' }, ...parts));
}

/// What changed from `older` to `newer`, in words (the history's "Changes" column).
function changes(older, newer) {
  if (!older) return 'created';
  const said = [];
  const list = (v) => (v || []).join(', ') || 'all';
  if (older.enabled !== newer.enabled) said.push(newer.enabled ? 'enabled' : 'disabled');
  if (older.rollout_percentage !== newer.rollout_percentage) said.push(`rollout ${older.rollout_percentage} → ${newer.rollout_percentage} %`);
  if (older.kill_switch !== newer.kill_switch) said.push(newer.kill_switch ? 'killed' : 'kill switch lifted');
  if (list(older.markets) !== list(newer.markets)) said.push(`markets ${list(older.markets)} → ${list(newer.markets)}`);
  const [before, after] = [(older.whitelist || []).length, (newer.whitelist || []).length];
  if (JSON.stringify(older.whitelist || []) !== JSON.stringify(newer.whitelist || [])) said.push(`whitelist ${before} → ${after} users`);
  if ((older.description || '') !== (newer.description || '')) said.push('description');
  if (JSON.stringify(older.plan || null) !== JSON.stringify(newer.plan || null)) said.push(`plan ${newer.plan ? newer.plan.state : 'removed'}`);
  return said.join('; ') || 'no visible change';
}

async function historySection(flag) {
  const { versions } = await api('GET', `/v1/flags/${encodeURIComponent(flag.key)}/history`);
  // Newest first: each version is compared with the one after it in the list.
  return el('section', { className: 'card' }, el('h2', { text: 'History' }), el('div', { className: 'table-wrap' },
    el('table', { 'aria-label': 'History' },
      el('thead', {}, el('tr', {}, ...['Version', 'When', 'By', 'Changes', 'Rollout', ''].map((h) => el('th', { text: h })))),
      el('tbody', {}, ...versions.map((v, i) => el('tr', {},
        el('td', { text: `v${v.version}` }), el('td', { text: v.updated_at || '' }), el('td', { text: v.updated_by || '' }),
        el('td', { text: changes(versions[i + 1], v) }), el('td', { text: `${v.rollout_percentage} %` }),
        el('td', {}, may('editor') && v.version !== flag.version ? el('button', { type: 'button', text: `Roll back to v${v.version}`, on: { click: async () => {
          await api('POST', `/v1/flags/${encodeURIComponent(flag.key)}/rollback`, { to_version: v.version, expected_version: flag.version, reason: 'rolled back from the console' });
          await refresh();
        } } }) : null)))))));
}

async function auditPage() {
  const flag = el('input', { id: 'audit-flag', type: 'text' });
  const actor = el('input', { id: 'audit-actor', type: 'text' });
  const body = el('tbody');
  const load = async () => {
    const q = new URLSearchParams({ limit: '100' });
    if (flag.value.trim()) q.set('flag', flag.value.trim());
    if (actor.value.trim()) q.set('actor', actor.value.trim());
    const { entries } = await api('GET', `/v1/audit?${q}`);
    body.replaceChildren(...entries.map((e) => el('tr', {},
      el('td', { text: e.at }), el('td', { text: e.actor }), el('td', { text: e.action }), el('td', { text: e.flag || '' }), el('td', { text: e.reason || '' }))));
  };
  page(el('section', { className: 'card' }, el('h1', { text: 'Audit' }),
    el('div', { className: 'row' }, el('label', { htmlFor: 'audit-flag', text: 'Flag' }), flag, el('label', { htmlFor: 'audit-actor', text: 'Actor' }), actor,
      el('button', { type: 'button', text: 'Filter', on: { click: load } })),
    el('div', { className: 'table-wrap' }, el('table', { 'aria-label': 'Audit' },
      el('thead', {}, el('tr', {}, ...['When', 'Who', 'What', 'Flag', 'Reason'].map((h) => el('th', { text: h })))), body))));
  await load();
}

async function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  if (hash.startsWith('/flags/')) await flagPage(hash.slice('/flags/'.length));
  else if (hash === '/audit') await auditPage();
  else if (hash === '/segments') await segmentsPage();
  else flagsPage();
}

// ---- start -------------------------------------------------------------------------------------
async function start() {
  await loadFlags();
  await route();
  follow();
}

$('global-kill').addEventListener('click', async () => {
  const reason = await askReason('Turn every flag off for everyone, at once (global kill switch).');
  if (reason) { await api('POST', '/v1/kill-switch', { active: true, reason }); await refresh(); }
});
$('global-lift').addEventListener('click', async () => { await api('POST', '/v1/kill-switch', { active: false }); await refresh(); });
$('sign-out').addEventListener('click', signOut);
window.addEventListener('hashchange', () => { if (state.me) route(); });
$('sign-in').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    await signIn($('token').value.trim());
    await start();
  } catch (err) {
    $('sign-in-error').textContent = err.status === 401 ? 'That token was refused.' : err.message;
  }
});
if (state.token) {
  signIn(state.token).then(start).catch(() => { sessionStorage.removeItem('switchyard-token'); state.token = null; });
}
