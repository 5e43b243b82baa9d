// keyprep bench dashboard. Plain JS, no build step. Everything that comes
// from the server is put into the page with textContent (never innerHTML),
// so names and messages cannot inject markup or script.
'use strict';

(() => {
  const $ = (sel) => document.querySelector(sel);

  // Anything the Content-Security-Policy blocks is a bug: count it where
  // a test (and a curious operator) can see it.
  document.addEventListener('securitypolicyviolation', (e) => {
    const d = document.documentElement.dataset;
    d.cspViolations = (d.cspViolations ? d.cspViolations + ' ' : '') + e.violatedDirective;
  });

  // ---- state -------------------------------------------------------------
  // The server sends a bounded view: the counts of the whole queue, one
  // page of it (the open users: at work, failed, pending) and the newest
  // results; "view" messages refresh the counts and the page.
  const state = {
    slots: new Map(),   // id → Slot (the keys attached now)
    removed: [],        // keys pulled out, newest first (at most historyMax)
    removedCount: 0,    // every key pulled out since the page loaded
    queue: new Map(),   // the page: upn (lower case) → Item
    counts: { total: 0, pending: 0, active: 0, done: 0, skipped: 0, failed: 0 },
    matched: 0,         // open users in the whole queue
    batches: [],
    results: new Map(), // jobId or upn → Result
    started: null,
    perHour: 0,
    eta: 0,             // seconds
    lastSeq: null,
  };
  const historyMax = 50;
  let es = null;
  let reconnectTimer = null;
  let renderTimer = null;
  // What changed since the last render: the results table is rebuilt only
  // when results change, so its buttons stay put under the pointer.
  const dirty = { slots: true, queue: true, results: true };
  const markAll = () => { dirty.slots = dirty.queue = dirty.results = true; };

  // ---- small DOM helpers -------------------------------------------------
  // A UPN as text that wraps only after its '@' and dots, never inside a
  // name: long UPNs stay readable in a narrow card.
  function upnText(upn) {
    const span = el('span', { class: 'upn-text' });
    for (const part of String(upn).split(/(?<=[@.])/)) {
      span.append(document.createTextNode(part), document.createElement('wbr'));
    }
    return span;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('data-') || k === 'title' || k === 'type' || k === 'role') e.setAttribute(k, String(v));
      else e[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  const text = (sel, v) => { $(sel).textContent = v; };

  function fmtTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d) || d.getFullYear() < 2000) return '';
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  function fmtDuration(sec) {
    if (!isFinite(sec) || sec <= 0) return '–';
    sec = Math.round(sec);
    const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = sec % 60;
    if (h) return `${h} h ${m} min`;
    if (m) return `${m} min ${s} s`;
    return `${s} s`;
  }

  // ---- API -----------------------------------------------------------------
  async function api(method, path, { body, headers, token } = {}) {
    const h = Object.assign({}, headers || {});
    if (token) h['Authorization'] = 'Bearer ' + token;
    const res = await fetch(path, { method, body, headers: h, credentials: 'same-origin', cache: 'no-store' });
    let data = null;
    const ct = res.headers.get('Content-Type') || '';
    if (ct.startsWith('application/json')) data = await res.json();
    if (!res.ok) {
      const err = new Error((data && data.error && data.error.message) || `HTTP ${res.status}`);
      err.status = res.status;
      err.code = data && data.error && data.error.code;
      throw err;
    }
    return data;
  }

  // ---- sign-in -------------------------------------------------------------
  async function exchange(token) {
    await api('POST', '/api/v1/session', { token });
  }

  function showLogin(msg) {
    $('#app').hidden = true;
    $('#login').hidden = false;
    $('#logout').hidden = true;
    text('#login-error', msg || '');
    setConn('signed-out', 'signed out');
    $('#token-input').focus();
  }

  async function start() {
    // The token arrives in the fragment (#token=…), which browsers never
    // send to a server. Take it and remove it from the address bar.
    const frag = new URLSearchParams(location.hash.slice(1));
    const token = frag.get('token');
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    if (token) {
      try {
        await exchange(token);
      } catch (e) {
        showLogin(e.status === 401 ? 'The token in the address is not valid (the daemon may have a new one).' : e.message);
        return;
      }
    }
    try {
      applySnapshot(await api('GET', '/api/v1/snapshot'));
    } catch (e) {
      showLogin(e.status === 401 ? '' : e.message);
      return;
    }
    $('#login').hidden = true;
    $('#app').hidden = false;
    $('#logout').hidden = false;
    connect();
    refreshFleet();
    setInterval(refreshFleet, 5000);
  }

  // ---- the fleet panel: every bench sharing the store ----------------------
  async function refreshFleet() {
    let f;
    try {
      f = await api('GET', '/api/v1/fleet');
    } catch (e) {
      return; // no fleet view, or the store is away: keep what is shown
    }
    const q = f.queue || {};
    const benches = f.benches || [];
    $('#fleet-panel').hidden = false;
    text('#fleet-count', benches.length === 1 ? '1 bench' : benches.length + ' benches');
    const eta = f.eta === null || f.eta === undefined ? '–' : fmtDuration(f.eta);
    text('#fleet-summary', `${q.queued || 0} queued · ${q.claimed || 0} claimed · ${q.begun || 0} begun · ` +
      `${q.waiting || 0} waiting for their key · ${q.done || 0} done · ${q.failed || 0} failed · ` +
      `${(f.rate || 0).toFixed(1)}/min · ETA ${eta}`);
    const ul = $('#fleet-benches');
    ul.replaceChildren(...benches.map((b) => {
      const keys = (b.keys || []).map((k) => `${k.key}${k.serial ? ' (' + k.serial + ')' : ''}: ${k.state}${k.upn ? ' ' + k.upn : ''}`);
      return el('li', { 'data-testid': 'fleet-bench', class: b.alive ? '' : 'silent' },
        el('strong', { text: b.id }), ` seen ${fmtTime(b.lastSeen)}${b.stopped ? ' (stopped)' : b.alive ? '' : ' (silent)'} · `,
        keys.length ? keys.join('; ') : 'no key');
    }));
    $('#fleet-waiting').replaceChildren(...(f.waiting || []).map((w) =>
      el('li', { 'data-testid': 'fleet-waiting', text: `${w.upn}: waiting for key ${w.key} (last seen at bench ${w.bench}, ${fmtTime(w.lastSeen)})` })));
  }

  $('#login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('#token-input');
    const token = input.value.trim();
    input.value = '';
    try {
      await exchange(token);
      await start();
    } catch (e) {
      text('#login-error', e.status === 401 ? 'That token is not valid.' : e.message);
    }
  });

  $('#logout').addEventListener('click', async () => {
    if (es) { es.close(); es = null; }
    try { await api('DELETE', '/api/v1/session'); } catch (e) { /* signed out anyway */ }
    showLogin('Signed out.');
  });

  // ---- live updates ----------------------------------------------------------
  function setConn(st, label) {
    const c = $('#conn');
    c.dataset.state = st;
    c.textContent = label;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    if (es) es.close();
    setConn('connecting', 'connecting…');
    es = new EventSource('/api/v1/events');
    es.addEventListener('open', () => setConn('live', 'live'));
    // Every (re)connection starts with the whole bench: a resync.
    es.addEventListener('snapshot', (m) => applySnapshot(JSON.parse(m.data)));
    for (const t of ['slot', 'item', 'result', 'batch', 'idle', 'cleared']) {
      es.addEventListener(t, (m) => applyEvent(JSON.parse(m.data)));
    }
    es.addEventListener('view', (m) => applyView(JSON.parse(m.data)));
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (e.g. the session ended or the daemon restarted): check why.
        setConn('offline', 'offline – retrying');
        reconnectTimer = setTimeout(async () => {
          try {
            await api('GET', '/api/v1/snapshot');
            connect();
          } catch (e) {
            if (e.status === 401) showLogin('The session ended. Open the address keyprep serve printed again.');
            else reconnectTimer = setTimeout(connect, 3000);
          }
        }, 2000);
      } else {
        setConn('connecting', 'reconnecting…');
      }
    });
  }

  function applySnapshot(snap) {
    state.slots = new Map();
    for (const s of snap.slots || []) {
      if (s.state === 'removed') remember(s);
      else state.slots.set(s.id, s);
    }
    state.results = new Map((snap.results || []).map((r) => [resultKey(r), r]));
    state.resultsTotal = snap.resultsTotal || 0;
    state.started = validTime(snap.started);
    applyView(snap);
    state.lastSeq = null;
    markAll();
    scheduleRender();
  }

  // The counts of the whole queue and the page (snapshot and view messages).
  function applyView(v) {
    state.queue = new Map((v.queue || []).map((i) => [i.upn.toLowerCase(), i]));
    state.counts = Object.assign({ total: 0, pending: 0, active: 0, done: 0, skipped: 0, failed: 0 }, v.counts || {});
    state.matched = v.matched || 0;
    state.batches = v.batches || [];
    state.perHour = v.perHour || 0;
    state.eta = (v.eta || 0) / 1e9; // Go duration: nanoseconds
    dirty.queue = true;
    scheduleRender();
  }

  // A key pulled out leaves the slots for the history.
  function remember(s) {
    if (state.removed.some((r) => r.id === s.id)) return;
    state.removed.unshift(s);
    state.removed.length = Math.min(state.removed.length, historyMax);
    state.removedCount++;
  }

  const resultKey = (r) => r.jobId || r.upn.toLowerCase();
  // Go's zero time means "not yet".
  const validTime = (iso) => (iso && new Date(iso).getFullYear() >= 2000 ? iso : null);

  function applyEvent(ev) {
    if (state.lastSeq !== null && ev.seq !== state.lastSeq + 1) {
      // A gap: something was missed. Reconnect for a fresh snapshot.
      state.lastSeq = null;
      connect();
      return;
    }
    state.lastSeq = ev.seq;
    switch (ev.type) {
      case 'slot':
        if (ev.slot) {
          if (ev.slot.state === 'removed') {
            state.slots.delete(ev.slot.id);
            remember(ev.slot);
          } else {
            state.slots.set(ev.slot.id, ev.slot);
          }
        }
        dirty.slots = true;
        break;
      case 'item':
        if (ev.item) {
          // Counts follow at once for a user on the page; the server's next
          // view message brings the exact counts and page.
          const k = ev.item.upn.toLowerCase();
          const prev = state.queue.get(k);
          if (prev) {
            if (prev.state in state.counts) state.counts[prev.state]--;
            if (ev.item.state in state.counts) state.counts[ev.item.state]++;
            state.queue.set(k, ev.item);
          }
          // The run's clock starts with the first user taken up.
          if (!state.started && ev.item.state === 'active') state.started = validTime(ev.item.updated) || ev.time;
        }
        dirty.queue = true;
        break;
      case 'result':
        if (ev.result) {
          if (!state.results.has(resultKey(ev.result))) state.resultsTotal++;
          state.results.set(resultKey(ev.result), ev.result);
        }
        dirty.results = true;
        break;
      case 'batch':
      case 'cleared':
        if (ev.message) text('#batch-message', ev.message);
        break;
    }
    recomputeRate();
    scheduleRender();
  }

  const counts = () => state.counts;

  // The rate since the first enrollment started, and the time left at that
  // rate (the server's numbers arrive with each snapshot).
  function recomputeRate() {
    if (!state.started) return;
    const startedAt = new Date(state.started).getTime();
    const hours = (Date.now() - startedAt) / 3.6e6;
    const c = counts();
    if (hours <= 0 || c.done === 0) return;
    state.perHour = c.done / hours;
    state.eta = (c.pending + c.active) / state.perHour * 3600;
  }

  // ---- rendering -------------------------------------------------------------
  function scheduleRender() {
    if (renderTimer) return;
    renderTimer = setTimeout(() => { renderTimer = null; render(); }, 50);
  }

  const slotTitles = {
    idle: 'ready',
    working: 'working',
    touch: 'waiting for a touch',
    done: 'done — swap the key',
    attention: 'needs attention',
    removed: 'removed',
  };

  function renderSlots() {
    const box = $('#slots');
    const slots = [...state.slots.values()].filter((s) => s.state !== 'removed')
      .sort((a, b) => a.key.localeCompare(b.key, undefined, { numeric: true }));
    box.replaceChildren(...slots.map((s) => {
      const card = el('article', { class: `slot slot-${s.state}`, 'data-testid': 'slot', 'data-slot-id': s.id, 'data-slot-state': s.state });
      card.append(
        el('div', { class: 'slot-head' },
          el('span', { class: 'slot-key', text: s.key }),
          el('span', { class: 'slot-model', text: s.model || '' })),
        el('div', { class: 'slot-state', 'data-testid': 'slot-state', text: slotTitles[s.state] || s.state }));
      if (s.upn) card.append(el('div', { class: 'slot-user', 'data-testid': 'slot-user', title: s.upn }, upnText(s.upn)));
      if (s.state === 'touch') {
        card.append(el('div', { class: 'touch-prompt', role: 'alert', 'data-testid': 'touch-prompt', text: s.message || 'Touch the key now' }));
      }
      if (s.step && s.state !== 'touch') card.append(el('div', { class: 'slot-step', text: s.step }));
      if (s.state === 'attention') {
        if (s.message) card.append(el('div', { class: 'slot-message', text: s.message }));
        if (s.hint) card.append(el('div', { class: 'hint', text: s.hint }));
      } else if (s.message && s.state !== 'touch') {
        card.append(el('div', { class: 'slot-message', text: s.message }));
      }
      card.append(el('div', { class: 'slot-foot', text: `${s.done || 0} enrolled on this key` + (s.since ? ` · since ${fmtTime(s.since)}` : '') }));
      return card;
    }));
    $('#no-slots').hidden = slots.length > 0;
    const touching = slots.filter((s) => s.state === 'touch').length;
    text('#slot-count', `${slots.length}` + (touching ? ` · ${touching} waiting for a touch` : ''));
    renderHistory();
  }

  // Keys pulled out: a count, and the newest of them in a collapsed list.
  function renderHistory() {
    const n = state.removedCount;
    $('#slot-history').hidden = n === 0;
    text('#slot-history-count', n === 1 ? '1 key removed' : `${n} keys removed`);
    $('#slot-history-list').replaceChildren(...state.removed.map((s) => el('li', { 'data-testid': 'removed-key' },
      el('span', { class: 'mono', text: s.key }), ` ${s.model || ''} · ${s.done || 0} enrolled`,
      s.upn ? ' · last ' : '', s.upn ? upnText(s.upn) : '', s.since ? ` · removed ${fmtTime(s.since)}` : '')));
    const more = n - state.removed.length;
    $('#slot-history-more').hidden = more <= 0;
    text('#slot-history-more', `and ${more} earlier`);
  }

  function renderQueue() {
    const c = counts();
    for (const k of Object.keys(c)) text(`#count-${k}`, c[k]);
    const finished = c.done + c.skipped + c.failed;
    const pct = c.total ? Math.floor(finished * 100 / c.total) : 0;
    $('#progress-bar').style.width = pct + '%';
    $('#progress').setAttribute('aria-valuenow', String(pct));
    $('#progress').dataset.complete = String(c.total > 0 && c.pending === 0 && c.active === 0);
    text('#progress-text', `${pct} %`);
    text('#rate', state.perHour > 0 ? `${state.perHour.toFixed(state.perHour < 10 ? 1 : 0)} keys/hour` : 'rate –');
    text('#eta', c.pending + c.active === 0 ? (c.total ? 'all done' : 'ETA –') : `ETA ${fmtDuration(state.eta)}`);
    text('#summary', c.total ? `${finished} of ${c.total} finished` : '');
    $('#retry-failed').disabled = c.failed === 0;
    $('#clear-failed').disabled = c.failed === 0;
    renderBatches();

    const open = [...state.queue.values()].filter((i) => i.state === 'pending' || i.state === 'active' || i.state === 'failed');
    const order = { active: 0, failed: 1, pending: 2 };
    open.sort((a, b) => order[a.state] - order[b.state]);
    const shown = open.slice(0, 200);
    $('#queue tbody').replaceChildren(...shown.map((i) => el('tr', { 'data-state': i.state },
      el('td', {}, el('span', { class: `badge badge-${i.state}`, text: i.state })),
      el('td', { text: i.upn }),
      el('td', { text: i.displayName || '' }),
      el('td', { text: i.key || '' }),
      el('td', { text: i.attempts || 0 }),
      el('td', {}, i.error ? el('span', { text: i.error }) : null, i.hint ? el('div', { class: 'hint', text: i.hint }) : null))));
    const more = $('#queue-more');
    const rest = Math.max(state.matched, open.length) - shown.length;
    more.hidden = rest <= 0;
    more.textContent = `and ${rest} more`;
  }

  // The batches, each with its counts and a Clear button once none of its
  // users is pending or at work.
  function renderBatches() {
    const list = $('#batches');
    list.replaceChildren(...state.batches.map((b) => {
      const busy = (b.pending || 0) + (b.active || 0) > 0;
      return el('li', { 'data-testid': 'batch', 'data-batch': b.name },
        el('strong', { text: b.name }),
        ` ${b.total} users · ${b.done || 0} done · ${b.skipped || 0} skipped · ${b.failed || 0} failed` + (busy ? ` · ${b.pending + b.active} open` : ''),
        el('button', { type: 'button', class: 'quiet small', 'data-testid': 'clear-batch', disabled: busy,
          title: busy ? 'users of this batch are still pending or at work' : 'remove this batch from the queue',
          text: 'Clear', onclick: () => clearQueue({ batch: b.name }) }));
    }));
    $('#batches-panel').hidden = state.batches.length === 0;
  }

  async function clearQueue(what) {
    try {
      const r = await api('POST', '/api/v1/jobs/clear', {
        body: JSON.stringify(what), headers: { 'Content-Type': 'application/json' },
      });
      $('#upload-result').replaceChildren(el('p', { 'data-testid': 'clear-result', text: `Cleared ${r.cleared} user${r.cleared === 1 ? '' : 's'} from the queue.` }));
    } catch (e) {
      $('#upload-result').replaceChildren(el('p', { class: 'error', text: e.message }));
    }
  }

  function renderProblems() {
    const items = [];
    for (const s of state.slots.values()) {
      if (s.state !== 'attention') continue;
      items.push(el('li', { 'data-testid': 'problem' },
        el('strong', { text: `Key ${s.key}` + (s.upn ? ` (${s.upn})` : '') + ': ' }),
        el('span', { text: s.message || 'needs attention' }),
        s.hint ? el('div', { class: 'hint', text: s.hint }) : null));
    }
    for (const i of state.queue.values()) {
      if (i.state !== 'failed') continue;
      items.push(el('li', { 'data-testid': 'problem' },
        el('strong', { text: `${i.upn}: ` }),
        el('span', { text: i.error || 'failed' }),
        i.hint ? el('div', { class: 'hint', text: i.hint }) : null));
    }
    const failedOff = state.counts.failed - [...state.queue.values()].filter((i) => i.state === 'failed').length;
    if (failedOff > 0) items.push(el('li', { class: 'empty', text: `and ${failedOff} more failed users (Queue entries)` }));
    $('#problems').replaceChildren(...items.slice(0, 101));
    $('#problems-panel').hidden = items.length === 0;
  }

  function renderResults() {
    const rows = [...state.results.values()].sort((a, b) => (b.createdDateTime || '').localeCompare(a.createdDateTime || ''));
    $('#results tbody').replaceChildren(...rows.map((r) => el('tr', { 'data-upn': r.upn, 'data-verified': String(!!r.verified) },
      el('td', { class: 'upn' }, upnText(r.upn)),
      el('td', { text: r.user || '' }),
      el('td', { text: r.model || '' }),
      el('td', { class: 'mono', text: r.key || '' }),
      el('td', { class: r.verified ? 'ok' : 'bad', text: r.verified ? '✓ verified' : '✗ not verified' }),
      el('td', { text: fmtTime(r.createdDateTime) }),
      el('td', { class: 'mono', title: r.jobId || '', text: (r.jobId || '').slice(0, 8) }),
      el('td', {}, r.pinEscrow ? el('button', { type: 'button', class: 'quiet reveal', 'data-testid': 'reveal', text: 'Reveal PIN', onclick: () => openReveal(r.upn) }) : null))));
    $('#no-results').hidden = rows.length > 0;
    const total = Math.max(state.resultsTotal || 0, rows.length);
    text('#result-count', total ? (total > rows.length ? `newest ${rows.length} of ${total} (Export CSV has all)` : String(total)) : '');
  }

  function render() {
    if (dirty.slots) renderSlots();
    renderQueue(); // cheap, and the rate changes with time
    if (dirty.slots || dirty.queue) renderProblems();
    if (dirty.results) renderResults();
    dirty.slots = dirty.queue = dirty.results = false;
  }

  // Keep the rate, ETA and "since" times fresh without events.
  setInterval(() => {
    if ($('#app').hidden) return;
    recomputeRate();
    dirty.slots = true;
    scheduleRender();
  }, 10000);

  // ---- upload and retry ------------------------------------------------------
  $('#upload-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const input = $('#upload-file');
    const box = $('#upload-result');
    if (!input.files.length) {
      box.replaceChildren(el('p', { class: 'error', text: 'Choose a CSV file first.' }));
      return;
    }
    const form = new FormData();
    form.append('file', input.files[0]);
    $('#upload-button').disabled = true;
    box.replaceChildren(el('p', { text: 'Uploading…' }));
    try {
      const sub = await api('POST', '/api/v1/jobs', { body: form });
      const parts = [el('p', { 'data-testid': 'upload-summary', text: `Queued ${sub.added} user${sub.added === 1 ? '' : 's'}` + (sub.duplicate ? `, ${sub.duplicate} already queued or done` : '') + (sub.errors.length ? `, ${sub.errors.length} row${sub.errors.length === 1 ? '' : 's'} with problems:` : '.') })];
      if (sub.errors.length) {
        parts.push(el('ul', { class: 'row-errors', 'data-testid': 'row-errors' },
          ...sub.errors.map((e) => el('li', { text: `line ${e.line}` + (e.upn ? ` (${e.upn})` : '') + `: ${e.message}` }))));
      }
      box.replaceChildren(...parts);
      input.value = '';
    } catch (e) {
      box.replaceChildren(el('p', { class: 'error', 'data-testid': 'upload-error', text: `Not queued: ${e.message}` }));
    } finally {
      $('#upload-button').disabled = false;
    }
  });

  $('#clear-failed').addEventListener('click', () => clearQueue({ failed: true }));

  $('#retry-failed').addEventListener('click', async () => {
    try {
      const r = await api('POST', '/api/v1/jobs/retry-failed');
      $('#upload-result').replaceChildren(el('p', { text: `Requeued ${r.requeued} failed user${r.requeued === 1 ? '' : 's'}.` }));
    } catch (e) {
      $('#upload-result').replaceChildren(el('p', { class: 'error', text: e.message }));
    }
  });

  // ---- reveal PIN --------------------------------------------------------------
  const dialog = $('#reveal-dialog');
  let revealUPN = null;

  function openReveal(upn) {
    revealUPN = upn;
    text('#reveal-upn', upn);
    text('#reveal-pin', '');
    text('#reveal-error', '');
    $('#reveal-confirm').hidden = false;
    dialog.showModal();
  }

  $('#reveal-confirm').addEventListener('click', async () => {
    const upn = revealUPN;
    if (!upn) return;
    try {
      const r = await api('POST', `/api/v1/results/${encodeURIComponent(upn)}/reveal-pin`, {
        body: JSON.stringify({ confirm: true }),
        headers: { 'Content-Type': 'application/json' },
      });
      // Closed (or reopened for someone else) while the request was out: drop it.
      if (!dialog.open || revealUPN !== upn) return;
      text('#reveal-pin', r.pin);
      $('#reveal-confirm').hidden = true;
    } catch (e) {
      text('#reveal-error', e.message);
    }
  });

  // The PIN lives only in the dialog: cleared when it closes. The close button
  // clears it before closing (the dialog's close event is dispatched later, as a
  // separate task); the close event covers Esc and any other way it closes.
  function clearReveal() {
    text('#reveal-pin', '');
    revealUPN = null;
  }
  dialog.addEventListener('close', clearReveal);
  $('#reveal-close').addEventListener('click', () => {
    clearReveal();
    dialog.close();
  });

  start();
})();
