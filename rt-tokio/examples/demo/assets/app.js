// The live room: one connection to the server's hub over WebSocket, SSE or long polling.
//
// - Transport: `?transport=ws|sse|longpoll` forces one; otherwise WebSocket first, then
//   SSE, then long polling. A transport that never opened while the server answers plain
//   HTTP is taken as blocked: the page falls back, remembers it for the session
//   (sessionStorage) and retries WebSocket every WS_RETRY_MS.
// - Every transport resumes from `cursor` (the hub's EPOCH:SEQ of the last item shown):
//   WebSocket in its `hello`, SSE by Last-Event-ID (or `?cursor=` for a new EventSource),
//   long polling in `subs=`. Items at or before the cursor are dropped, and a message
//   whose id is already shown is never shown again. Gaps and resets are shown as notices.
// - Reconnection: exponential backoff with jitter, visible in the badge and the banner.
// - The view (cursor and last MAX_SAVED items) is kept in sessionStorage: a reload shows it
//   again and resumes from the cursor, with a gap notice if the history moved on meanwhile.
'use strict';

(() => {
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const WS_OPEN_TIMEOUT_MS = 4000;
  const WS_RETRY_MS = 60000;
  const SILENCE_MS = 8000; // ticks come every second: this much silence is a dead link
  const PING_EVERY_MS = 5000;
  const POLL_TIMEOUT_MS = 40000;
  const MAX_SHOWN = 400;
  const MAX_SAVED = 200;
  const ORDER = ['ws', 'sse', 'longpoll'];
  const NAMES = { ws: 'WebSocket', sse: 'SSE', longpoll: 'Long polling' };

  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const forced = ORDER.includes(params.get('transport')) ? params.get('transport') : null;
  const wsUrl = params.get('ws') ||
    `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

  const session = {
    get(key) { try { return sessionStorage.getItem(`demo.${key}`); } catch { return null; } },
    set(key, value) {
      try {
        if (value == null) sessionStorage.removeItem(`demo.${key}`);
        else sessionStorage.setItem(`demo.${key}`, value);
      } catch { /* storage disabled: nothing is remembered */ }
    },
  };

  function randomId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function parseCursor(text) {
    const m = /^(\d+):(\d+)$/.exec(text || '');
    return m ? { epoch: m[1], seq: BigInt(m[2]) } : null;
  }

  // ---- state ----

  const state = {
    transport: forced || rememberedFallback() || 'ws',
    cursor: null,          // EPOCH:SEQ of the last item applied
    conn: null,            // the open transport, if any
    status: 'connecting',
    attempt: 0,
    reconnects: 0,
    opened: { ws: false, sse: false, longpoll: false },
    retryTimer: null,
    retryAt: 0,
    lastData: 0,
    rtt: null,
    shown: new Map(),      // message id -> <li>
    mine: new Set(),       // ids this page sent
    outbox: new Map(),     // id -> post not yet acknowledged
    duplicatesDropped: 0,
    view: [],              // what is shown, to restore after a reload
  };
  window.demo = { state };

  function rememberedFallback() {
    if (forced) return null;
    const t = session.get('fallback');
    return ORDER.includes(t) ? t : null;
  }

  // ---- view ----

  function log(text, level) {
    const li = document.createElement('li');
    if (level) li.className = level;
    const time = document.createElement('time');
    time.textContent = new Date().toLocaleTimeString([], { hour12: false });
    li.append(time, text);
    const list = $('log');
    list.prepend(li);
    while (list.children.length > 60) list.lastChild.remove();
  }

  let toastTimer = null;
  function toast(text) {
    const t = $('toast');
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
  }

  function render() {
    const badge = $('badge');
    badge.dataset.transport = state.transport;
    badge.dataset.state = state.status;
    $('badge-transport').textContent = NAMES[state.transport];
    let label = state.status;
    if (state.status === 'reconnecting' && state.retryAt) {
      const s = Math.max(0, (state.retryAt - Date.now()) / 1000);
      label = `reconnecting in ${s.toFixed(1)} s`;
    }
    $('badge-state').textContent = label;
    $('badge-rtt').textContent = state.status === 'live' && state.rtt != null ? `${state.rtt} ms` : '';
    badge.title = forced ? 'Transport forced by ?transport=' : 'Transport chosen automatically';
    const how = forced ? ' (forced)' : state.transport !== 'ws' ? ' (fallback; WebSocket retried later)' : '';
    $('conn-transport').textContent = `${NAMES[state.transport]}${how}`;
    $('conn-rtt').textContent = state.rtt != null ? `${state.rtt} ms` : '–';
    $('conn-reconnects').textContent = String(state.reconnects);
    $('conn-cursor').textContent = state.cursor || '–';
    const banner = $('banner');
    banner.hidden = state.status === 'live' || state.status === 'connecting';
    if (!banner.hidden) {
      $('banner-text').textContent = state.retryAt
        ? `Connection lost. Reconnecting in ${Math.max(0, (state.retryAt - Date.now()) / 1000).toFixed(1)} s (attempt ${state.attempt})…`
        : 'Connection lost. Reconnecting…';
    }
  }

  function hue(name) {
    let h = 0;
    for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
    return h;
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
  }

  function messageItem(msg, cursor) {
    const li = document.createElement('li');
    li.className = 'msg';
    li.dataset.id = msg.id;
    if (cursor) li.dataset.cursor = cursor;
    if (state.mine.has(msg.id)) li.classList.add('mine');
    const avatar = document.createElement('span');
    avatar.className = 'avatar';
    avatar.style.background = `hsl(${hue(msg.name)} 55% 52%)`;
    avatar.textContent = (msg.name.trim()[0] || '?').toUpperCase();
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    const meta = document.createElement('div');
    meta.className = 'meta';
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = msg.name;
    meta.append(who);
    if (msg.via) {
      const via = document.createElement('span');
      const tag = msg.via === 'http' ? 'http' : msg.via;
      via.className = `via ${tag}`;
      via.textContent = NAMES[tag] || tag;
      meta.append(via);
    }
    const time = document.createElement('time');
    time.textContent = msg.at ? clock(msg.at) : '';
    meta.append(time);
    const status = document.createElement('span');
    status.className = 'status';
    meta.append(status);
    const body = document.createElement('div');
    body.className = 'body';
    body.textContent = msg.text;
    bubble.append(meta, body);
    li.append(avatar, bubble);
    return li;
  }

  function append(li) {
    const list = $('messages');
    const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    list.querySelector('.empty')?.remove();
    // Pending messages of this page stay last, below what the server has confirmed.
    const firstPending = li.classList.contains('pending') ? null : list.querySelector('.msg.pending');
    list.insertBefore(li, firstPending);
    while (list.children.length > MAX_SHOWN) {
      const old = list.firstChild;
      if (old.dataset && old.dataset.id) state.shown.delete(old.dataset.id);
      old.remove();
    }
    if (stick || li.classList.contains('mine')) list.scrollTop = list.scrollHeight;
  }

  function notice(kind, html) {
    const li = document.createElement('li');
    li.className = `notice ${kind}`;
    li.append(...html);
    append(li);
  }

  function bold(text) {
    const b = document.createElement('b');
    b.textContent = text;
    return b;
  }

  function gapNotice(info) {
    const n = Number(info.missed_to) - Number(info.missed_from) + 1;
    notice('gap', [bold(`${n} message${n === 1 ? '' : 's'} missed`),
      ` (#${info.missed_from}–#${info.missed_to}): the server's history no longer holds them.`]);
  }

  function resetNotice(at) {
    notice('reset', [bold('The server restarted'),
      ` at ${clock(at)} and its history starts again here: anything sent before the restart that this page had not received yet is lost.`]);
  }

  let saveTimer = null;
  function remember(item) {
    state.view.push(item);
    if (state.view.length > MAX_SAVED) state.view.splice(0, state.view.length - MAX_SAVED);
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, 200);
  }

  function save() {
    session.set('view', JSON.stringify({ cursor: state.cursor, items: state.view }));
  }

  function restore() {
    let saved = null;
    try { saved = JSON.parse(session.get('view') || 'null'); } catch { saved = null; }
    if (!saved || !parseCursor(saved.cursor) || !Array.isArray(saved.items)) return false;
    for (const item of saved.items) {
      if (item.k === 'm' && item.m && typeof item.m.id === 'string') {
        if (item.mine) state.mine.add(item.m.id);
        const li = messageItem(item.m, item.c);
        state.shown.set(item.m.id, li);
        append(li);
      } else if (item.k === 'gap' && item.info) {
        gapNotice(item.info);
      } else if (item.k === 'reset') {
        resetNotice(item.at);
      }
    }
    state.view = saved.items;
    state.cursor = saved.cursor;
    log(`restored ${saved.items.length} items from this tab's session; resuming after ${saved.cursor}`);
    return true;
  }

  // ---- what the server sends, on any transport ----

  function applies(cursorText) {
    // True when the item at `cursorText` follows what was applied (not a replay).
    const c = parseCursor(cursorText);
    const at = parseCursor(state.cursor);
    if (!c) return false;
    return !at || c.epoch !== at.epoch || c.seq > at.seq;
  }

  const on = {
    message(cursor, msg) {
      state.lastData = Date.now();
      if (!applies(cursor) || !msg || typeof msg.id !== 'string') return;
      state.cursor = cursor;
      const pending = state.shown.get(msg.id);
      if (pending && pending.dataset.cursor) {
        // Already shown (a send retried across a restart): never twice.
        state.duplicatesDropped += 1;
        render();
        return;
      }
      if (pending) pending.remove();
      state.outbox.delete(msg.id);
      const li = messageItem(msg, cursor);
      state.shown.set(msg.id, li);
      append(li);
      remember({ k: 'm', c: cursor, m: msg, mine: state.mine.has(msg.id) });
      render();
    },
    gap(info) {
      state.lastData = Date.now();
      if (!applies(info.cursor)) return;
      state.cursor = info.cursor;
      const gap = { missed_from: info.missed_from, missed_to: info.missed_to };
      gapNotice(gap);
      remember({ k: 'gap', info: gap });
      log(`gap: messages ${info.missed_from}–${info.missed_to} are no longer in the history`, 'bad');
      render();
    },
    reset(info) {
      state.lastData = Date.now();
      if (!applies(info.cursor)) return;
      const hadHistory = state.cursor !== null;
      state.cursor = info.cursor;
      if (hadHistory) {
        resetNotice(Date.now());
        remember({ k: 'reset', at: Date.now() });
      } else {
        save();
      }
      log('reset: the server has a new history (new epoch)', 'warn');
      render();
    },
    tick(t) {
      state.lastData = Date.now();
      $('server-clock').textContent = new Date(t.at).toLocaleTimeString([], { hour12: false });
      $('uptime').textContent = uptime(t.uptime_s);
      $('tick-n').textContent = `#${t.n}`;
      const room = (t.history || {}).room;
      $('room-head').textContent = room ? room.head.split(':')[1] : '0';
      $('room-history').textContent = room ? String(room.messages) : '0';
      $('online-ws').textContent = t.online.websocket;
      $('online-sse').textContent = t.online.sse;
      $('online-longpoll').textContent = t.online.longpoll;
      // How many of each transport's connections (polls, for long polling) came over
      // HTTP/2 and over HTTP/1.1, as the server counted them.
      for (const name of ['websocket', 'sse', 'longpoll']) {
        const c = (t.http_versions || {})[name] || {};
        const parts = [];
        if (c.http2) parts.push(`HTTP/2 ×${c.http2}`);
        if (c.http1) parts.push(`HTTP/1.1 ×${c.http1}`);
        $(`http-${name}`).textContent = parts.join(', ') || '–';
      }
      const pulse = $('pulse');
      pulse.classList.add('on');
      setTimeout(() => pulse.classList.remove('on'), 120);
    },
    ack(id, cursor, duplicate) {
      state.outbox.delete(id);
      const li = state.shown.get(id);
      if (li && !li.dataset.cursor) li.querySelector('.status').textContent = 'sent';
      if (duplicate) log(`send ${id.slice(0, 6)} was already published at ${cursor}`);
    },
    sendError(id, code, message, retryAfterMs) {
      if (code === 'rate_limited' && id && state.outbox.has(id)) {
        toast(`Slow down: ${message}`);
        setTimeout(() => flush(id), Math.max(100, retryAfterMs || 1000));
        return;
      }
      if (id) {
        state.outbox.delete(id);
        const li = state.shown.get(id);
        if (li && !li.dataset.cursor) {
          li.classList.remove('pending');
          li.classList.add('failed');
          li.querySelector('.status').textContent = `not sent: ${code}`;
          state.shown.delete(id);
        }
      }
      toast(`${code}: ${message}`);
      log(`refused: ${code}: ${message}`, 'bad');
    },
    pong(rtt) {
      state.lastData = Date.now();
      state.rtt = Math.round(rtt);
      render();
    },
    open() {
      const first = !state.opened[state.transport];
      state.opened[state.transport] = true;
      state.status = 'live';
      state.attempt = 0;
      state.retryAt = 0;
      state.lastData = Date.now();
      log(`${NAMES[state.transport]} open${state.cursor ? `, resuming after ${state.cursor}` : ''}`);
      if (first && !forced && state.transport === 'ws') session.set('fallback', null);
      render();
      for (const id of state.outbox.keys()) flush(id);
      measure();
    },
    // The connection ended or failed. `opened`: it had opened; `why`: for the log.
    close(conn, opened, why) {
      if (conn !== state.conn) return;
      state.conn = null;
      log(`${NAMES[state.transport]}: ${why}`, 'warn');
      lost(opened);
    },
    reconnecting(why) {
      // The browser reconnects by itself (EventSource): show it.
      state.status = 'reconnecting';
      state.retryAt = 0;
      state.reconnects += 1;
      log(why, 'warn');
      render();
    },
  };

  function uptime(s) {
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  // ---- transports ----

  function openWebSocket() {
    const conn = { kind: 'ws' };
    let opened = false;
    let done = false;
    const ws = new WebSocket(wsUrl);
    const finish = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { ws.close(); } catch { /* already closed */ }
      on.close(conn, opened, why);
    };
    const timer = setTimeout(() => { if (!opened) finish(`did not open within ${WS_OPEN_TIMEOUT_MS / 1000} s`); },
      WS_OPEN_TIMEOUT_MS);
    ws.onopen = () => {
      opened = true;
      clearTimeout(timer);
      ws.send(JSON.stringify({ type: 'hello', cursor: state.cursor }));
      on.open();
    };
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { log('unreadable message from the server', 'bad'); return; }
      switch (m.type) {
        case 'message': on.message(m.cursor, m.message); break;
        case 'gap': on.gap(m); break;
        case 'reset': on.reset(m); break;
        case 'tick': on.tick(m.tick); break;
        case 'ack': on.ack(m.id, m.cursor, m.duplicate); break;
        case 'pong': on.pong(performance.now() - m.t); break;
        case 'error':
          if (m.code === 'cursor_ahead') state.cursor = null;
          on.sendError(m.id, m.code, m.message, m.retry_after_ms);
          break;
        default: break;
      }
    };
    ws.onclose = (e) => {
      if (e.code === 1009) toast('The server closed the connection: message too large.');
      if (e.code === 1008) toast(`The server closed the connection: ${e.reason || 'policy violation'}.`);
      finish(`closed (${e.code}${e.reason ? `: ${e.reason}` : ''})`);
    };
    conn.close = () => { done = true; clearTimeout(timer); try { ws.close(1000); } catch { /* closed */ } };
    conn.send = (post) => { ws.send(JSON.stringify({ type: 'send', ...post })); };
    conn.ping = () => { ws.send(JSON.stringify({ type: 'ping', t: performance.now() })); };
    return conn;
  }

  function openEventSource() {
    const conn = { kind: 'sse' };
    let opened = false;
    let failures = 0;
    let done = false;
    // A new EventSource has no Last-Event-ID: the cursor goes in the URL. The browser's own
    // reconnections send Last-Event-ID, which the server prefers.
    const es = new EventSource(`/sse${state.cursor ? `?cursor=${encodeURIComponent(state.cursor)}` : ''}`);
    const finish = (why) => {
      if (done) return;
      done = true;
      es.close();
      on.close(conn, opened, why);
    };
    es.onopen = () => { opened = true; failures = 0; on.open(); };
    es.onmessage = (e) => { try { on.message(e.lastEventId, JSON.parse(e.data)); } catch { log('unreadable event', 'bad'); } };
    es.addEventListener('gap', (e) => on.gap(JSON.parse(e.data)));
    es.addEventListener('reset', (e) => on.reset(JSON.parse(e.data)));
    es.addEventListener('tick', (e) => on.tick(JSON.parse(e.data)));
    es.onerror = () => {
      if (done) return;
      if (es.readyState === EventSource.CLOSED) {
        // A non-200 answer (a proxy's 502, a 503) or a wrong type: the browser gave up for
        // good. Take over: a new EventSource from our cursor, after a backoff.
        finish('the browser gave up on the stream (an error status); reconnecting with the last cursor');
        return;
      }
      failures += 1;
      if (!opened || failures >= 3) {
        finish(opened ? 'the browser could not reconnect 3 times; backing off' : 'the stream did not open');
        return;
      }
      on.reconnecting('stream lost: the browser reconnects with Last-Event-ID');
    };
    conn.close = () => { done = true; es.close(); };
    conn.send = (post) => httpSend(post);
    conn.ping = () => httpPing();
    return conn;
  }

  function openLongPoll() {
    const conn = { kind: 'longpoll' };
    let opened = false;
    let done = false;
    let abort = null;
    let client = session.get('lpclient');
    if (!client) { client = randomId(); session.set('lpclient', client); }
    const finish = (why) => {
      if (done) return;
      done = true;
      on.close(conn, opened, why);
    };
    (async () => {
      while (!done) {
        abort = new AbortController();
        const timer = setTimeout(() => abort.abort(), POLL_TIMEOUT_MS);
        const room = state.cursor ? `room;${state.cursor}` : 'room';
        let res;
        let text = '';
        try {
          res = await fetch(`/poll?subs=${room},ticks&client=${client}`, { signal: abort.signal, cache: 'no-store' });
          if (res.status === 200) text = await res.text();
        } catch (e) {
          clearTimeout(timer);
          finish(`poll failed (${e.name === 'AbortError' ? 'timed out' : 'network error'})`);
          return;
        }
        clearTimeout(timer);
        if (done) return;
        if (res.status === 200 || res.status === 204) {
          if (!opened) { opened = true; on.open(); }
          for (const line of text.split('\n')) {
            if (!line) continue;
            let a;
            try { a = JSON.parse(line); } catch { log('unreadable poll line', 'bad'); continue; }
            if (a.channel === 'ticks') {
              if (a.data) on.tick(JSON.parse(a.data));
            } else if (a.reason === 'gap') {
              on.gap(a);
            } else if (a.reason === 'reset') {
              on.reset(a);
            } else if (a.reason === 'cursor_ahead') {
              state.cursor = null;
              finish('the server never issued our cursor; starting over');
              return;
            } else if (a.data != null) {
              try { on.message(a.cursor, JSON.parse(a.data)); } catch { log('unreadable message', 'bad'); }
            }
          }
        } else if (res.status === 429) {
          // Another tab polls with our client id (a duplicated tab copies sessionStorage).
          client = randomId();
          session.set('lpclient', client);
        } else {
          finish(`poll answered ${res.status}`);
          return;
        }
      }
    })();
    conn.close = () => { done = true; if (abort) abort.abort(); };
    conn.send = (post) => httpSend(post);
    conn.ping = () => httpPing();
    return conn;
  }

  async function httpSend(post) {
    let res;
    let body = {};
    try {
      res = await fetch('/send', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...post, via: state.transport }),
      });
      body = await res.json().catch(() => ({}));
    } catch {
      return; // stays in the outbox: sent again once connected
    }
    if (res.ok) on.ack(post.id, body.cursor, body.duplicate);
    else on.sendError(post.id, body.error || `http_${res.status}`, body.message || res.statusText, body.retry_after_ms);
  }

  async function httpPing() {
    const t0 = performance.now();
    try {
      await fetch('/ping', { cache: 'no-store' });
      on.pong(performance.now() - t0);
    } catch { /* the transport notices a dead server itself */ }
  }

  const OPEN = { ws: openWebSocket, sse: openEventSource, longpoll: openLongPoll };

  // ---- connecting, falling back, reconnecting ----

  function connect() {
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
    state.retryAt = 0;
    if (state.status !== 'reconnecting') state.status = 'connecting';
    render();
    log(`connecting with ${NAMES[state.transport]}…`);
    state.conn = OPEN[state.transport]();
  }

  async function serverAnswers() {
    const c = new AbortController();
    const timer = setTimeout(() => c.abort(), 3000);
    try {
      const res = await fetch('/ping', { cache: 'no-store', signal: c.signal });
      return res.status === 204;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async function lost(opened) {
    state.status = 'reconnecting';
    render();
    const t = state.transport;
    const next = ORDER[ORDER.indexOf(t) + 1];
    if (!forced && !opened && !state.opened[t] && next && await serverAnswers()) {
      // The server answers HTTP, yet this transport never worked here: something between
      // (a proxy, a firewall) blocks it. Fall back, and remember it for this session.
      log(`${NAMES[t]} is blocked here, the server answers HTTP: falling back to ${NAMES[next]}`, 'warn');
      state.transport = next;
      session.set('fallback', next);
      scheduleWsRetry();
      connect();
      return;
    }
    state.attempt += 1;
    state.reconnects += 1;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (state.attempt - 1));
    const delay = Math.round(base / 2 + Math.random() * base / 2); // "equal jitter"
    state.retryAt = Date.now() + delay;
    log(`reconnecting in ${(delay / 1000).toFixed(1)} s (attempt ${state.attempt})`);
    state.retryTimer = setTimeout(connect, delay);
    render();
  }

  function scheduleWsRetry() {
    if (forced || state.transport === 'ws') return;
    setTimeout(probeWebSocket, WS_RETRY_MS);
  }

  // On a fallback, try WebSocket again now and then; switch back once it opens.
  function probeWebSocket() {
    if (forced || state.transport === 'ws') return;
    let settled = false;
    const ws = new WebSocket(wsUrl);
    const give = (ok) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try { ws.close(1000); } catch { /* closed */ }
      if (!ok) { scheduleWsRetry(); return; }
      log('WebSocket works again: switching back');
      session.set('fallback', null);
      if (state.conn) state.conn.close();
      state.conn = null;
      state.transport = 'ws';
      connect();
    };
    const timer = setTimeout(() => give(false), WS_OPEN_TIMEOUT_MS);
    ws.onopen = () => give(true);
    ws.onclose = () => give(false);
  }

  function measure() {
    if (state.conn && state.status === 'live' && state.conn.ping) {
      try { state.conn.ping(); } catch { /* the transport reports its own failure */ }
    }
  }

  setInterval(measure, PING_EVERY_MS);
  setInterval(() => {
    if (state.status === 'live' && state.conn && Date.now() - state.lastData > SILENCE_MS) {
      const conn = state.conn;
      conn.close();
      on.close(conn, true, `no data for ${SILENCE_MS / 1000} s: the link is dead`);
    }
    if (state.status === 'reconnecting') render();
  }, 250);

  // ---- sending ----

  function flush(id) {
    const post = state.outbox.get(id);
    if (!post || !state.conn || state.status !== 'live') return;
    try { state.conn.send(post); } catch { /* sent again on the next open */ }
  }

  function submit(e) {
    e.preventDefault();
    const input = $('text');
    const text = input.value.trim();
    const name = $('name').value.trim() || 'Guest';
    if (!text) return;
    try { localStorage.setItem('demo.name', name); } catch { /* not remembered */ }
    const post = { id: randomId(), name, text };
    state.mine.add(post.id);
    state.outbox.set(post.id, post);
    const li = messageItem({ ...post, via: state.transport }, null);
    li.classList.add('pending');
    li.querySelector('.status').textContent = state.status === 'live' ? 'sending…' : 'waiting for the connection…';
    state.shown.set(post.id, li);
    append(li);
    input.value = '';
    flush(post.id);
  }

  // ---- start ----

  function start() {
    let name = params.get('name');
    if (!name) { try { name = localStorage.getItem('demo.name'); } catch { name = null; } }
    $('name').value = name || `Guest ${Math.floor(100 + Math.random() * 900)}`;
    $('composer').addEventListener('submit', submit);
    $('retry-now').addEventListener('click', () => { if (!state.conn) connect(); });
    const choice = forced || 'auto';
    for (const a of document.querySelectorAll('.transports a')) {
      if (a.dataset.choice === choice) a.setAttribute('aria-current', 'page');
      // Keep the page's other parameters (name, ws) when switching.
      const next = new URLSearchParams(location.search);
      if (a.dataset.choice === 'auto') next.delete('transport');
      else next.set('transport', a.dataset.choice);
      a.href = `?${next}`;
    }
    const empty = document.createElement('li');
    empty.className = 'empty';
    empty.textContent = 'No messages yet. Say hello!';
    $('messages').append(empty);
    addEventListener('pagehide', save);
    if (!forced && state.transport !== 'ws') {
      log(`${NAMES[state.transport]} remembered from earlier in this session; WebSocket is retried later`);
      scheduleWsRetry();
    }
    render();
    // The HTTP version the page itself came over (every fetch and EventSource of the page
    // shares that connection; a WebSocket may too, over HTTP/2: the server's counts say).
    const nav = performance.getEntriesByType('navigation')[0];
    const hop = nav && nav.nextHopProtocol;
    $('conn-http').textContent = hop === 'h2' ? 'HTTP/2' : hop === 'http/1.1' ? 'HTTP/1.1' : (hop || '–');
    if (restore()) {
      connect();
      return;
    }
    // A new page starts a little back in the history, so the room is not empty.
    fetch('/cursor', { cache: 'no-store' })
      .then((r) => r.json())
      .then((b) => { if (!state.cursor && parseCursor(b.cursor)) state.cursor = b.cursor; })
      .catch(() => { /* the transport starts from the server's backlog itself */ })
      .finally(connect);
  }

  start();
})();
