/**
 * The live cluster page: shards (slot ranges, primary, replicas), open slots and failovers as they
 * happen (from GET /cluster/events, Server-Sent Events), and a pub/sub console over /client.js.
 * The token comes from ?_token= (then removed from the address bar) or the form, and is kept in
 * sessionStorage. Everything received is rendered with textContent, never as HTML.
 */
import { connect } from '/client.js';

const SLOTS = 16384;
const TOKEN_KEY = 'cluster-gateway-token';
const MAX_LOG = 200;
const MAX_MESSAGES = 500;
const HIGHLIGHT_MS = 15_000;

const $ = (id) => document.getElementById(id);

/** el('li', {class: 'x', dataset: {a: 1}}, 'text', child) */
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'style') e.style.cssText = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

const short = (id) => (id ? id.slice(0, 8) : '?');
const clock = () => new Date().toLocaleTimeString(undefined, { hour12: false });

const state = {
  token: null,
  /** The last topology JSON received. */
  topology: null,
  es: null,
  esLost: false,
  esRetry: null,
  ws: null,
  /** UI subscriptions: key "kind:name" -> { kind, name, li, off } (kept across token changes). */
  subs: new Map(),
  /** Primary id -> time until which its card shows the failover highlight. */
  failoverUntil: new Map(),
  /** "old>new" -> when that failover was logged (the server's event and the topology both tell). */
  failoversLogged: new Map(),
  renderTimer: null,
};

// ---- status, errors, event log -------------------------------------------------------------------

function pill(id, st, text) {
  const p = $(id);
  p.dataset.state = st;
  p.textContent = text;
}

function showError(text) {
  const p = $('login-error');
  p.textContent = text;
  p.hidden = !text;
}

function logEvent(kind, text) {
  const list = $('event-log');
  list.prepend(el('li', { dataset: { kind } }, el('time', {}, clock()), text));
  while (list.children.length > MAX_LOG) list.lastElementChild.remove();
}

function nodeName(id, fallbackAddr) {
  const n = state.topology?.nodes.find((x) => x.id === id);
  return `${n?.addr ?? fallbackAddr ?? '?'} (${short(id)})`;
}

// ---- cluster view --------------------------------------------------------------------------------

function rangeText(ranges) {
  const parts = ranges.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`));
  return parts.length > 8 ? `${parts.slice(0, 8).join(', ')}, … (${parts.length} ranges)` : parts.join(', ');
}

function shardColor(i) {
  return `hsl(${(i * 137.5 + 200) % 360} 55% 50%)`;
}

/** Notice node-level changes no server event names (a node failing or coming back, nodes joining). */
function diffNodes(prev, next) {
  if (!prev) return;
  const before = new Map(prev.nodes.map((n) => [n.id, n]));
  for (const n of next.nodes) {
    const b = before.get(n.id);
    if (!b) logEvent('info', `node ${n.addr} (${short(n.id)}) joined as ${n.primary ? 'primary' : 'replica'}`);
    else if (!b.failed && n.failed) logEvent('error', `node ${n.addr} (${short(n.id)}) is marked failed`);
    else if (b.failed && !n.failed) logEvent('info', `node ${n.addr} (${short(n.id)}) is back`);
    before.delete(n.id);
  }
  for (const b of before.values()) logEvent('info', `node ${b.addr} (${short(b.id)}) left the cluster`);
}

/**
 * A failover the page sees in the topology itself: a shard's slots now owned by a node that was its
 * primary's replica. Usually the server's failover event came first; after a stream reconnect it did not.
 */
function diffPrimaries(prev, next) {
  if (!prev) return;
  const prevNodes = new Map(prev.nodes.map((n) => [n.id, n]));
  for (const s of next.shards) {
    const first = s.ranges[0]?.[0];
    const old = prev.shards.find((p) => p.ranges.some(([a, b]) => a <= first && first <= b));
    if (!old || old.primary === s.primary || prevNodes.get(s.primary)?.primaryId !== old.primary) continue;
    const group = [s.primary, ...next.nodes.filter((n) => n.primaryId === s.primary).map((n) => n.id)];
    logFailover({ shard: group.sort()[0], oldPrimary: old.primary, newPrimary: s.primary, oldPrimaryAddr: old.addr, newPrimaryAddr: s.addr }, prev);
  }
}

function logFailover(f, names = state.topology) {
  const key = `${f.oldPrimary}>${f.newPrimary}`;
  const now = Date.now();
  if ((state.failoversLogged.get(key) ?? 0) > now - 60_000) return;
  state.failoversLogged.set(key, now);
  const name = (id, addr) => `${names?.nodes.find((x) => x.id === id)?.addr ?? addr ?? '?'} (${short(id)})`;
  const secs = typeof f.seconds === 'number' && f.seconds > 0 ? ` after ${f.seconds.toFixed(1)} s` : '';
  logEvent('failover', `failover: shard ${short(f.shard)}: primary ${name(f.oldPrimary, f.oldPrimaryAddr)} → ${name(f.newPrimary, f.newPrimaryAddr)}${secs}`);
  state.failoverUntil.set(f.newPrimary, now + HIGHLIGHT_MS);
}

function render(topo) {
  diffNodes(state.topology, topo);
  diffPrimaries(state.topology, topo);
  state.topology = topo;
  const now = Date.now();
  const shards = [...topo.shards].sort((a, b) => (a.ranges[0]?.[0] ?? SLOTS) - (b.ranges[0]?.[0] ?? SLOTS));
  $('covered').textContent = String(topo.covered);
  $('covered').dataset.ok = String(topo.covered === SLOTS);
  $('shard-count').textContent = String(shards.length);
  $('node-count').textContent = String(topo.nodes.length);
  $('open-count').textContent = String(topo.open.length);

  const bar = $('slotbar');
  bar.replaceChildren();
  shards.forEach((s, i) => {
    for (const [a, b] of s.ranges) {
      bar.append(el('div', { class: 'seg', title: `${a}-${b}: ${s.addr}`, style: `left:${(a / SLOTS) * 100}%;width:${((b - a + 1) / SLOTS) * 100}%;background:${shardColor(i)}` }));
    }
  });
  for (const o of topo.open) bar.append(el('div', { class: 'open', title: `slot ${o.slot} migrating`, style: `left:${(o.slot / SLOTS) * 100}%` }));

  const cards = shards.map((s, i) => {
    const slots = s.ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
    const primary = topo.nodes.find((n) => n.id === s.primary);
    const replicas = topo.nodes.filter((n) => n.primaryId === s.primary);
    const out = topo.open.filter((o) => o.from === s.primary);
    const inc = topo.open.filter((o) => o.to === s.primary);
    const failover = (state.failoverUntil.get(s.primary) ?? 0) > now;
    const nodeLine = (n, role) =>
      el('li', { class: n.failed ? 'failed' : undefined, dataset: { role, addr: n.addr, id: n.id }, title: n.id }, el('span', { class: 'role' }, role), `${n.addr} `, el('span', { class: 'id' }, short(n.id)), n.failed ? ' failed' : '', n.connected === false && !n.failed ? ' disconnected' : '');
    const migrations = [];
    if (out.length) migrations.push(`migrating out: ${out.slice(0, 5).map((o) => `${o.slot} → ${o.to ? nodeName(o.to) : '?'}`).join(', ')}${out.length > 5 ? ` (+${out.length - 5})` : ''}`);
    if (inc.length) migrations.push(`importing: ${inc.slice(0, 5).map((o) => `${o.slot} ← ${o.from ? nodeName(o.from) : '?'}`).join(', ')}${inc.length > 5 ? ` (+${inc.length - 5})` : ''}`);
    return el(
      'article',
      { class: `shard${out.length || inc.length ? ' migrating' : ''}${failover ? ' failover' : ''}`, style: `--shard-color:${shardColor(i)}`, dataset: { primary: s.primary, addr: s.addr, slots: String(slots) } },
      el('h3', {}, `Shard ${i + 1} · ${slots} slots`),
      el('div', { class: 'ranges' }, rangeText(s.ranges)),
      el('ul', {}, primary ? nodeLine(primary, 'primary') : el('li', { dataset: { role: 'primary', addr: s.addr } }, el('span', { class: 'role' }, 'primary'), s.addr), replicas.map((r) => nodeLine(r, 'replica'))),
      migrations.map((m) => el('div', { class: 'migrations' }, m)),
    );
  });
  $('shards').replaceChildren(...cards);

  // Re-render when the next failover highlight expires.
  clearTimeout(state.renderTimer);
  const next = Math.min(...[...state.failoverUntil.values()].filter((t) => t > now));
  if (Number.isFinite(next)) state.renderTimer = setTimeout(() => state.topology && render(state.topology), next - now + 50);
}

function onMigration(m) {
  const parts = [];
  if (m.opened?.length) parts.push(`${m.opened.length} slot(s) opened (${m.opened.slice(0, 6).join(', ')}${m.opened.length > 6 ? ', …' : ''})`);
  if (m.moved) parts.push(`${m.moved} slot(s) moved`);
  if (m.closed?.length) parts.push(`${m.closed.length} slot(s) closed`);
  logEvent('migration', `migration: ${parts.join(', ') || 'slot map changed'}`);
}

function onFailover(f) {
  logFailover(f);
  if (state.topology) render(state.topology);
}

function openStream() {
  const es = new EventSource(`/cluster/events?_token=${encodeURIComponent(state.token)}`);
  state.es = es;
  pill('cluster-status', 'connecting', 'cluster: connecting');
  es.addEventListener('open', () => {
    if (state.es !== es) return;
    pill('cluster-status', 'open', 'cluster: live');
    if (state.esLost) logEvent('info', 'cluster stream reconnected');
    state.esLost = false;
  });
  es.addEventListener('topology', (ev) => state.es === es && render(JSON.parse(ev.data)));
  es.addEventListener('migration', (ev) => state.es === es && onMigration(JSON.parse(ev.data)));
  es.addEventListener('failover', (ev) => state.es === es && onFailover(JSON.parse(ev.data)));
  es.addEventListener('error', () => {
    if (state.es !== es) return;
    if (!state.esLost) logEvent('error', 'cluster stream lost; reconnecting');
    state.esLost = true;
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (an HTTP error, e.g. the gateway restarting): start over in a moment.
      pill('cluster-status', 'closed', 'cluster: retrying');
      clearTimeout(state.esRetry);
      state.esRetry = setTimeout(() => state.es === es && openStream(), 2000);
    } else pill('cluster-status', 'reconnecting', 'cluster: reconnecting');
  });
}

// ---- pub/sub console -----------------------------------------------------------------------------

function addMessage(kind, channel, pattern, data) {
  const list = $('messages');
  list.prepend(el('li', { dataset: { kind, channel } }, el('time', {}, clock()), el('span', { class: 'chan' }, pattern ? `${channel} (${pattern})` : channel), el('span', { class: 'data' }, data)));
  while (list.children.length > MAX_MESSAGES) list.lastElementChild.remove();
}

/** Subscribe the UI entry on the current client (again after a token change). */
function attach(sub) {
  const kindName = { subscribe: 'message', psubscribe: 'pmessage', ssubscribe: 'smessage' }[sub.kind];
  sub.off = state.ws[sub.kind](sub.name, (data, channel, pattern) => addMessage(kindName, channel, pattern, data));
  sub.li.dataset.state = 'pending';
  const off = sub.off;
  off.ready.then(
    () => sub.off === off && (sub.li.dataset.state = 'active'),
    (e) => {
      if (sub.off !== off || e.code === 'CLOSED') return;
      logEvent('error', `${sub.kind} ${sub.name}: ${e.message}`);
      removeSub(sub);
    },
  );
}

function removeSub(sub) {
  state.subs.delete(`${sub.kind}:${sub.name}`);
  sub.li.remove();
  void sub.off?.();
}

function addSub(kind, name) {
  const key = `${kind}:${name}`;
  if (state.subs.has(key)) return;
  const sub = { kind, name, li: null, off: null };
  sub.li = el('li', { dataset: { kind, name } }, `${kind.toUpperCase()} ${name} `, el('button', { type: 'button', title: 'unsubscribe', 'aria-label': `unsubscribe ${name}`, onclick: () => removeSub(sub) }, '✕'));
  state.subs.set(key, sub);
  $('subscriptions').append(sub.li);
  if (state.ws) attach(sub);
}

function openPubSub() {
  const ws = connect('/ws', { token: state.token });
  state.ws = ws;
  pill('ws-status', 'connecting', 'pub/sub: connecting');
  ws.on('open', () => pill('ws-status', 'open', 'pub/sub: connected'));
  ws.on('reconnect', () => {
    const s = ws.subscriptions();
    logEvent('info', `pub/sub reconnected; resubscribed ${s.channels.length + s.patterns.length + s.shardChannels.length} subscription(s)`);
  });
  ws.on('close', (c) => {
    if (state.ws !== ws) return;
    if (c.willReconnect) {
      pill('ws-status', 'reconnecting', `pub/sub: reconnecting (${c.code})`);
      logEvent('error', `pub/sub connection closed (${c.code}${c.reason ? ` ${c.reason}` : ''}); reconnecting in ${c.delayMs} ms`);
    } else pill('ws-status', 'closed', `pub/sub: closed (${c.code})`);
  });
  ws.on('error', (e) => state.ws === ws && logEvent('error', `pub/sub: ${e.message}`));
  for (const sub of state.subs.values()) attach(sub);
}

// ---- login ---------------------------------------------------------------------------------------

function stop() {
  state.es?.close();
  state.es = null;
  clearTimeout(state.esRetry);
  const ws = state.ws;
  state.ws = null;
  ws?.close();
  for (const sub of state.subs.values()) sub.off = null;
  pill('cluster-status', 'idle', 'cluster: not connected');
  pill('ws-status', 'idle', 'pub/sub: not connected');
}

async function start(token) {
  stop();
  showError('');
  if (!token) return;
  pill('cluster-status', 'connecting', 'cluster: connecting');
  let res;
  try {
    res = await fetch('/cluster', { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch (e) {
    pill('cluster-status', 'error', 'cluster: unreachable');
    showError(`cannot reach the gateway: ${e.message}`);
    return;
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    pill('cluster-status', 'error', `cluster: ${res.status}`);
    showError(res.status === 401 || res.status === 403 ? `token rejected: ${body.error ?? res.statusText}` : `GET /cluster: ${res.status} ${body.error ?? ''}`);
    if (res.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    return;
  }
  state.token = token;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('logout').hidden = false;
  state.topology = null;
  render(await res.json());
  logEvent('info', 'connected');
  openStream();
  openPubSub();
}

function init() {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('_token');
  if (fromUrl !== null) {
    // Keep the token out of the address bar and the history.
    url.searchParams.delete('_token');
    history.replaceState(null, '', url.pathname + url.search + url.hash);
  }
  const token = fromUrl || sessionStorage.getItem(TOKEN_KEY);
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    void start($('token').value.trim());
  });
  $('logout').addEventListener('click', () => {
    stop();
    sessionStorage.removeItem(TOKEN_KEY);
    $('token').value = '';
    $('logout').hidden = true;
  });
  $('sub-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('sub-name').value.trim();
    if (name) addSub($('sub-kind').value, name);
    $('sub-name').value = '';
  });
  $('pub-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const out = $('pub-result');
    if (!state.ws) {
      out.textContent = 'not connected';
      return;
    }
    try {
      const n = await state.ws.call($('pub-kind').value, $('pub-channel').value, $('pub-message').value);
      // PUBLISH in a cluster counts the subscribers on the node that took it, not everywhere.
      out.textContent = `published (${n} subscriber(s) on the receiving node)`;
    } catch (err) {
      out.textContent = `error: ${err.message}`;
    }
  });
  if (token) {
    $('token').value = token;
    void start(token);
  }
}

init();
