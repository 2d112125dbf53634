/* global document, location, fetch, crypto, setTimeout, clearTimeout, TextEncoder, sessionStorage */
// White Cross nurse-station demo: plain JavaScript over the SDK's browser bundle
// (@white-cross/realtime-client/browser, served at /vendor/realtime-client.js). The SDK does the
// reconnects, token renewal, catch-up after a reconnect or `sync:required`, exactly-once
// delivery and the send retries with an outbox that survives a tab close; this page only draws.
// All user-provided text goes through textContent, never innerHTML.
import { RealtimeClient } from '/vendor/realtime-client.js';

const SESSION_KEY = 'wcr-demo-session';
const DRILL_TTL_MS = 15 * 60 * 1000;

const SCHOOLS = [
  {
    id: 'demo-lincoln',
    name: 'Lincoln Elementary',
    users: [
      { id: 'nurse-amy', name: 'Amy Chen', role: 'nurse', title: 'School nurse' },
      { id: 'nurse-ben', name: 'Ben Okafor', role: 'nurse', title: 'School nurse' },
      { id: 'admin-carla', name: 'Carla Diaz', role: 'admin', title: 'Principal' },
      { id: 'staff-dan', name: 'Dan Miller', role: 'staff', title: 'PE teacher' },
    ],
  },
  {
    id: 'demo-roosevelt',
    name: 'Roosevelt Middle School',
    users: [
      { id: 'nurse-eva', name: 'Eva Novak', role: 'nurse', title: 'School nurse' },
      { id: 'admin-femi', name: 'Femi Adeyemi', role: 'admin', title: 'Principal' },
    ],
  },
];

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('data-') || k === 'title' || k.startsWith('aria-') || k === 'role')
      node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c) node.append(c);
  return node;
};

const state = {
  school: null,
  me: null,
  token: null,
  client: null,
  listed: false,
  presence: new Map(), // userId -> {status, lastSeenAt}
  conversations: new Map(), // id -> {conversation, messages: Map<id, msg>, unread, deliveredBy, readBy}
  openId: null,
  typing: new Map(), // conversationId -> Map<userId, timeout>
  notifications: new Map(), // id -> notification
  alerts: new Map(), // id -> {alert, node}
  typingSentAt: 0,
  typingIdle: null,
};

// ─── tokens and connection ──────────────────────────────────────────────────────────────────

async function fetchToken(user) {
  const res = await fetch('/demo/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId: user.id, organizationId: state.school.id, role: user.role }),
  });
  if (!res.ok) throw new Error(`demo token refused (${res.status})`);
  return (await res.json()).token;
}

/** emit with an ack; resolves data, rejects with a RealtimeError (§8 fields: type, message…). */
function request(event, payload) {
  return payload === undefined ? state.client.emit(event) : state.client.emit(event, payload);
}

function setStatus(text, kind) {
  const s = $('status');
  s.textContent = text;
  s.dataset.state = kind;
}

async function signIn(user) {
  state.me = user;
  state.token = await fetchToken(user);
  // A reload of this tab signs the same user in again (the list comes back from the server).
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ school: state.school.id, user: user.id }));
  $('signin').hidden = true;
  $('app').hidden = false;
  $('me-name').textContent = user.name;
  $('me-role').textContent = user.role;
  $('school-name').textContent = state.school.name;
  $('raise-drill').hidden = user.role !== 'admin';
  renderPeople();
  renderConversationList();

  const client = new RealtimeClient({
    url: location.origin,
    token: state.token,
    // Called before the token expires and after the server ended the session: a fresh one.
    tokenProvider: async () => (state.token = await fetchToken(user)),
    transports: ['websocket', 'polling'],
  });
  state.client = client;
  wireClient(client);
  client.open().catch((e) => setStatus(`offline (${e.type})`, 'offline'));
}

function signOut() {
  state.client?.close();
  sessionStorage.removeItem(SESSION_KEY);
  for (const t of state.typing.values()) for (const h of t.values()) clearTimeout(h);
  Object.assign(state, { me: null, token: null, client: null, openId: null, listed: false });
  for (const m of [state.presence, state.conversations, state.typing, state.notifications])
    m.clear();
  for (const { node } of state.alerts.values()) node.remove();
  state.alerts.clear();
  document.body.classList.remove('emergency');
  $('messages').replaceChildren();
  $('notifications').replaceChildren();
  $('chat-pane').hidden = true;
  $('chat-empty').hidden = false;
  $('app').hidden = true;
  $('signin').hidden = false;
}

/** The caller's conversations from the server (conversation:list), most recent first. */
async function loadConversationList() {
  let pages = 0;
  for await (const page of state.client.conversations.pages({ limit: 50 })) {
    for (const s of page.conversations) {
      const c = upsertConversation(s.conversation);
      c.unread = s.unreadCount;
      c.lastMessage = s.lastMessage;
      c.myReadSeq = Math.max(c.myReadSeq ?? 0, s.readSeq);
    }
    if (++pages >= 4) break; // a demo school: 200 conversations are plenty
  }
  state.listed = true;
  renderConversationList();
}

function wireClient(socket) {
  socket.on('connection:confirmed', async () => {
    setStatus('connected', 'connected');
    if (!state.listed) loadConversationList().catch((e) => toast(`list unavailable: ${e.type}`));
    try {
      const { users } = await request('presence:query', {
        userIds: state.school.users.map((u) => u.id),
      });
      for (const u of users) state.presence.set(u.userId, u);
      renderPeople();
    } catch (e) {
      toast(`presence unavailable: ${e.type}`);
    }
    // Catch-up after a reconnect is the SDK's: it re-joins and delivers what was missed.
  });
  socket.on('client:state', (s) => {
    if (s === 'reconnecting') setStatus('reconnecting…', 'reconnecting');
    else if (s === 'closed' && state.me) setStatus('offline', 'offline');
  });
  socket.on('client:error', (e) => {
    if (!socket.connected) setStatus(`offline (${e.type})`, 'offline');
    $('status').title = e.message;
  });
  socket.on('client:synced', ({ messages }) => {
    if (messages > 0) toast(`Caught up ${messages} missed message${messages > 1 ? 's' : ''}`);
  });
  socket.on('client:outbox', () => {
    if (state.openId) renderMessages();
    renderConversationList();
  });
  socket.on('auth:expired', () => toast('Session expired, signing in again…'));
  socket.on('error', (e) => toast(`${e.event ?? 'error'}: ${e.type}`));

  socket.on('presence:changed', (p) => {
    state.presence.set(p.userId, p);
    renderPeople();
  });

  socket.on('conversation:new', ({ conversation }) => {
    upsertConversation(conversation);
    renderConversationList();
  });
  socket.on('message:new', ({ message }) => onMessage(message));
  socket.on('message:edited', ({ message }) => onMessage(message, true));
  socket.on('message:deleted', ({ messageId, conversationId, deletedAt }) => {
    const m = state.conversations.get(conversationId)?.messages.get(messageId);
    if (m) onMessage({ ...m, content: '', deletedAt }, true);
  });
  socket.on('message:delivered', (r) => onReceipt(r, 'deliveredBy'));
  socket.on('message:read', (r) => {
    onReceipt(r, 'deliveredBy');
    onReceipt(r, 'readBy');
  });
  socket.on('message:typing', onTyping);

  socket.on('notification:sync', ({ unread }) => {
    for (const n of unread) state.notifications.set(n.id, n);
    renderNotifications();
  });
  socket.on('notification:new', ({ notification }) => {
    state.notifications.set(notification.id, notification);
    renderNotifications();
    toast(notification.title);
  });
  socket.on('notification:read', ({ notificationId, readAt }) => {
    const n = state.notifications.get(notificationId);
    if (n) n.readAt = readAt;
    renderNotifications();
  });

  socket.on('alert:emergency', ({ alert }) => showEmergency(alert));
  socket.on('alert:resolved', ({ alertId }) => resolveEmergency(alertId));
  for (const kind of ['alert:health', 'alert:medication-reminder']) {
    socket.on(kind, ({ alert }) => {
      state.notifications.set(alert.id, {
        id: alert.id,
        type: kind,
        title: alert.title,
        body: alert.message,
        priority: alert.severity === 'critical' ? 'critical' : 'high',
        createdAt: alert.createdAt,
        readAt: null,
        isAlert: true,
      });
      renderNotifications();
    });
  }
}

// ─── people and conversations ───────────────────────────────────────────────────────────────

/** A stable uuid for a pair of users (or the team room), so both sides open the same conversation. */
async function stableId(key) {
  const bytes = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(key)),
  ).slice(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const h = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const userName = (id) => state.school?.users.find((u) => u.id === id)?.name ?? id;

function renderPeople() {
  const list = $('people');
  list.replaceChildren();
  for (const u of state.school.users) {
    if (u.id === state.me.id) continue;
    const p = state.presence.get(u.id);
    const status = p?.status ?? 'offline';
    const seen =
      status === 'offline' && p?.lastSeenAt
        ? `last seen ${new Date(p.lastSeenAt).toLocaleTimeString()}`
        : status;
    const li = el(
      'li',
      { 'data-testid': 'presence', 'data-user': u.id, 'data-status': status },
      el('span', { class: `dot ${status}`, title: status }),
      el(
        'span',
        { class: 'person' },
        el('strong', { text: u.name }),
        el('small', { class: 'muted', text: `${u.title} · ${seen}` }),
      ),
      el('button', {
        class: 'small',
        text: 'Chat',
        'data-testid': 'open-chat',
        'data-user': u.id,
        onclick: () => openDirect(u),
      }),
    );
    list.append(li);
  }
  const team = el(
    'li',
    { class: 'team' },
    el('span', { class: 'dot team', text: '' }),
    el(
      'span',
      { class: 'person' },
      el('strong', { text: 'Health office team room' }),
      el('small', { class: 'muted', text: 'everyone at this school' }),
    ),
    el('button', {
      class: 'small',
      text: 'Open',
      'data-testid': 'open-team',
      onclick: () => openTeam(),
    }),
  );
  list.append(team);
}

function upsertConversation(conversation) {
  let c = state.conversations.get(conversation.id);
  if (!c) {
    c = {
      conversation,
      messages: new Map(),
      unread: 0,
      deliveredBy: new Map(),
      readBy: new Map(),
      joined: false,
    };
    state.conversations.set(conversation.id, c);
  } else {
    c.conversation = conversation;
  }
  return c;
}

function conversationTitle(conv) {
  if (conv.title) return conv.title;
  const others = conv.participantIds.filter((id) => id !== state.me.id);
  return others.map(userName).join(', ') || 'Just me';
}

const activity = (c) => c.lastMessage?.createdAt ?? c.conversation.createdAt;

function renderConversationList() {
  const list = $('conversations');
  list.replaceChildren();
  const sorted = [...state.conversations].sort(([, a], [, b]) =>
    activity(b).localeCompare(activity(a)),
  );
  for (const [id, c] of sorted) {
    const last = c.lastMessage;
    const preview = last
      ? `${last.senderId === state.me.id ? 'You' : userName(last.senderId)}: ${last.deletedAt ? 'message deleted' : last.content}`
      : 'No messages yet';
    const li = el(
      'li',
      {
        class: id === state.openId ? 'active' : '',
        'data-testid': 'conversation',
        'data-id': id,
        onclick: () => openConversation(id),
      },
      el(
        'span',
        { class: 'conv-text' },
        el('strong', { text: conversationTitle(c.conversation) }),
        el('small', { class: 'muted preview', text: preview }),
      ),
      c.unread > 0 ? el('span', { class: 'badge', text: String(c.unread) }) : null,
    );
    list.append(li);
  }
}

async function openOrCreate(conversationId, participantIds, title) {
  try {
    return await joinConversation(conversationId);
  } catch (e) {
    if (e.type !== 'RESOURCE_NOT_FOUND') throw e;
  }
  try {
    await request('conversation:create', {
      conversationId,
      participantIds,
      ...(title ? { title } : {}),
    });
  } catch (e) {
    // The other side created it at the same moment: it exists now, join it.
    if (e.type !== 'CONFLICT') throw e;
  }
  return joinConversation(conversationId);
}

async function openDirect(user) {
  const pair = [state.me.id, user.id].sort().join(':');
  const id = await stableId(`demo-dm:${state.school.id}:${pair}`);
  await openOrCreate(id, [user.id]).then(
    () => openConversation(id),
    (e) => toast(`could not open chat: ${e.type}`),
  );
}

async function openTeam() {
  const id = await stableId(`demo-team:${state.school.id}`);
  const others = state.school.users.map((u) => u.id).filter((u) => u !== state.me.id);
  await openOrCreate(id, others, 'Health office team room').then(
    () => openConversation(id),
    (e) => toast(`could not open room: ${e.type}`),
  );
}

/** Joins (the SDK tracks it and catches it up after any reconnect) and loads the newest page. */
async function joinConversation(conversationId) {
  const data = await request('conversation:join', { conversationId, limit: 100 });
  const c = upsertConversation(data.conversation);
  c.joined = true;
  for (const m of data.messages) addMessage(c, m);
  renderConversationList();
  if (conversationId === state.openId) renderMessages();
  return c;
}

function addMessage(c, m) {
  const isNew = !c.messages.has(m.id);
  c.messages.set(m.id, m);
  if (!c.lastMessage || m.seq >= c.lastMessage.seq) c.lastMessage = m;
  return isNew;
}

function openConversation(id) {
  state.openId = id;
  const c = state.conversations.get(id);
  if (!c) return;
  if (!c.joined)
    joinConversation(id).then(
      () => markRead(c),
      () => undefined,
    );
  document.body.classList.add('chat-open');
  c.unread = 0;
  $('chat-empty').hidden = true;
  $('chat-pane').hidden = false;
  $('chat-title').textContent = conversationTitle(c.conversation);
  $('chat-members').textContent = `${c.conversation.participantIds.length} participants`;
  renderConversationList();
  renderMessages();
  renderTyping();
  markRead(c);
  $('composer-input').focus();
}

function onMessage(m, replace = false) {
  let c = state.conversations.get(m.conversationId);
  if (!c) {
    // A conversation we have not seen in this tab: fetch it (and its recent messages).
    joinConversation(m.conversationId).then(
      () => onMessage(m, replace),
      () => undefined,
    );
    return;
  }
  const isNew = addMessage(c, m) || replace;
  if (!isNew) return;
  if (m.senderId !== state.me.id) {
    clearTypingOf(m.conversationId, m.senderId);
    if (m.conversationId === state.openId && document.visibilityState === 'visible') markRead(c);
    else {
      c.unread += replace ? 0 : 1;
      request('message:delivered', { conversationId: m.conversationId, messageId: m.id }).catch(
        () => undefined,
      );
    }
  }
  renderConversationList();
  if (m.conversationId === state.openId) renderMessages();
}

function markRead(c) {
  const others = [...c.messages.values()]
    .filter((m) => m.senderId !== state.me.id)
    .sort((a, b) => b.seq - a.seq);
  if (others.length === 0) return;
  const latest = others[0];
  if (c.myReadSeq >= latest.seq) return;
  c.myReadSeq = latest.seq;
  request('message:read', { conversationId: c.conversation.id, messageId: latest.id }).catch(
    () => undefined,
  );
}

function onReceipt(r, field) {
  const c = state.conversations.get(r.conversationId);
  const m = c?.messages.get(r.messageId);
  if (!c || !m || r.userId === state.me.id) return;
  c[field].set(r.userId, Math.max(c[field].get(r.userId) ?? 0, m.seq));
  if (r.conversationId === state.openId) renderMessages();
}

const clock = (ms) =>
  new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** What a pending message waits for, from the SDK's outbox entry. */
function pendingNote(e) {
  if (e.lastError === 'RATE_LIMIT_EXCEEDED' && e.nextAttemptAt > Date.now())
    return `rate limited · sends at ${clock(e.nextAttemptAt)}`;
  if (e.lastError && e.nextAttemptAt > Date.now()) return `retrying at ${clock(e.nextAttemptAt)}`;
  return 'sending…';
}

function tickState(c, m) {
  if (m.pending) return ['pending', '🕓', pendingNote(m.pending)];
  const others = c.conversation.participantIds.filter((id) => id !== state.me.id);
  const all = (map) => others.length > 0 && others.every((id) => (map.get(id) ?? 0) >= m.seq);
  const names = (map) =>
    others
      .filter((id) => (map.get(id) ?? 0) >= m.seq)
      .map(userName)
      .join(', ');
  if (all(c.readBy)) return ['read', '✓✓', `read by ${names(c.readBy)}`];
  if (all(c.deliveredBy)) return ['delivered', '✓✓', `delivered to ${names(c.deliveredBy)}`];
  return ['sent', '✓', 'sent'];
}

function renderMessages() {
  const c = state.conversations.get(state.openId);
  const list = $('messages');
  if (!c) return;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren();
  // Unsent messages come from the SDK's outbox (also those restored after a tab was closed).
  const pending = (state.client?.outbox ?? [])
    .filter((e) => e.conversationId === c.conversation.id && !c.messages.has(e.messageId))
    .map((e) => ({
      id: e.messageId,
      conversationId: e.conversationId,
      seq: 0,
      senderId: state.me.id,
      content: e.content,
      createdAt: new Date(e.queuedAt).toISOString(),
      editedAt: null,
      deletedAt: null,
      pending: e,
    }));
  const sorted = [...c.messages.values(), ...pending].sort(
    (a, b) => (a.seq || Infinity) - (b.seq || Infinity),
  );
  for (const m of sorted) {
    const mine = m.senderId === state.me.id;
    const [tick, symbol, label] = mine ? tickState(c, m) : [];
    const li = el(
      'li',
      {
        class: `msg ${mine ? 'mine' : 'theirs'}`,
        'data-testid': 'message',
        'data-seq': String(m.seq ?? ''),
        'data-mine': String(mine),
        ...(m.pending ? { 'data-pending': 'true' } : {}),
      },
      mine ? null : el('div', { class: 'sender', text: userName(m.senderId) }),
      el('div', {
        class: `body${m.deletedAt ? ' deleted' : ''}`,
        text: m.deletedAt ? 'message deleted' : m.content,
      }),
      el(
        'div',
        { class: 'meta' },
        el('time', {
          text: new Date(m.createdAt).toLocaleTimeString([], {
            hour: '2-digit',
            minute: '2-digit',
          }),
        }),
        m.editedAt ? el('span', { class: 'muted', text: ' · edited' }) : null,
        mine
          ? el('span', {
              class: `ticks ${tick}`,
              text: ` ${symbol}`,
              title: label,
              'data-testid': 'ticks',
              'data-state': tick,
            })
          : null,
        m.pending
          ? el('span', { class: 'pending-note', 'data-testid': 'pending-note', text: ` ${label}` })
          : null,
      ),
    );
    list.append(li);
  }
  if (atBottom || sorted.length < 20) list.scrollTop = list.scrollHeight;
}

// ─── typing ─────────────────────────────────────────────────────────────────────────────────

function onTyping({ conversationId, userId, isTyping }) {
  if (userId === state.me.id) return;
  let m = state.typing.get(conversationId);
  if (!m) state.typing.set(conversationId, (m = new Map()));
  clearTimeout(m.get(userId));
  if (isTyping)
    m.set(
      userId,
      setTimeout(() => clearTypingOf(conversationId, userId), 6000),
    );
  else m.delete(userId);
  if (conversationId === state.openId) renderTyping();
}

function clearTypingOf(conversationId, userId) {
  const m = state.typing.get(conversationId);
  if (!m) return;
  clearTimeout(m.get(userId));
  m.delete(userId);
  if (conversationId === state.openId) renderTyping();
}

function renderTyping() {
  const who = [...(state.typing.get(state.openId)?.keys() ?? [])].map(userName);
  $('typing').textContent =
    who.length === 0 ? '' : `${who.join(', ')} ${who.length > 1 ? 'are' : 'is'} typing…`;
}

function sendTyping(isTyping) {
  if (!state.openId) return;
  request('message:typing', { conversationId: state.openId, isTyping }).catch(() => undefined);
}

$('composer-input').addEventListener('input', () => {
  const now = Date.now();
  // At most one "typing" every 2.5 s (the server also drops extra ones silently).
  if (now - state.typingSentAt > 2500) {
    state.typingSentAt = now;
    sendTyping(true);
  }
  clearTimeout(state.typingIdle);
  state.typingIdle = setTimeout(() => {
    state.typingSentAt = 0;
    sendTyping(false);
  }, 3000);
});

$('composer').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('composer-input');
  const content = input.value.trim();
  const c = state.conversations.get(state.openId);
  if (!content || !c) return;
  input.value = '';
  clearTimeout(state.typingIdle);
  state.typingSentAt = 0;
  sendTyping(false);
  // The SDK keeps it in its outbox (shown as pending, kept across a tab close) and retries with
  // the same messageId (the idempotency key) until acked, for up to 2 minutes.
  try {
    const message = await state.client.sendMessage(c.conversation.id, content, {
      messageId: crypto.randomUUID(),
    });
    addMessage(c, message);
  } catch (e) {
    toast(`message not sent: ${e.type}`);
  }
  renderMessages();
  renderConversationList();
});

// ─── notifications ──────────────────────────────────────────────────────────────────────────

function renderNotifications() {
  const list = $('notifications');
  list.replaceChildren();
  const all = [...state.notifications.values()].sort((a, b) =>
    b.createdAt.localeCompare(a.createdAt),
  );
  for (const n of all) {
    list.append(
      el(
        'li',
        {
          class: `notification ${n.priority} ${n.readAt ? 'read' : 'unread'}`,
          'data-testid': 'notification',
          'data-id': n.id,
        },
        el('strong', { text: n.title }),
        n.body ? el('p', { text: n.body }) : null,
        el(
          'div',
          { class: 'meta' },
          el('time', { text: new Date(n.createdAt).toLocaleTimeString() }),
          n.readAt
            ? el('span', { class: 'muted', text: ' · read' })
            : el('button', {
                class: 'small ghost',
                text: n.isAlert ? 'Acknowledge' : 'Mark read',
                onclick: () => readNotification(n),
              }),
        ),
      ),
    );
  }
  const unread = all.filter((n) => !n.readAt).length;
  $('notif-count').textContent = String(unread);
  $('notif-count').dataset.count = String(unread);
  $('notifications-empty').hidden = all.length > 0;
}

async function readNotification(n) {
  try {
    if (n.isAlert) {
      const { acknowledgedAt } = await request('alert:acknowledge', { alertId: n.id });
      n.readAt = acknowledgedAt;
    } else {
      const { readAt } = await request('notification:read', { notificationId: n.id });
      n.readAt = readAt;
    }
  } catch (e) {
    toast(`${e.type}`);
  }
  renderNotifications();
}

$('bell').addEventListener('click', () => $('panel').classList.toggle('open'));

// ─── emergency alerts ───────────────────────────────────────────────────────────────────────

function showEmergency(alert) {
  if (state.alerts.has(alert.id)) return; // re-sent copies (redelivered/replayed) share the id
  const ack = el('button', { class: 'ack', text: 'Acknowledge', 'data-testid': 'ack-alert' });
  const resolve =
    state.me?.role === 'admin'
      ? el('button', { class: 'ack ghost-light', text: 'Resolve', 'data-testid': 'resolve-alert' })
      : null;
  resolve?.addEventListener('click', async () => {
    resolve.disabled = true;
    const res = await fetch(`/api/v1/alerts/${encodeURIComponent(alert.id)}/resolve`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${state.token}` },
    });
    if (!res.ok) {
      resolve.disabled = false;
      toast(`resolve refused: ${(await res.json()).type}`);
    }
    // alert:resolved (to everyone) removes the banner.
  });
  const node = el(
    'div',
    {
      class: `alert-banner ${alert.severity}`,
      role: 'alertdialog',
      'aria-label': 'Emergency alert',
      'data-testid': 'alert-banner',
      'data-id': alert.id,
    },
    el('div', { class: 'alert-icon', text: '⚠' }),
    el(
      'div',
      { class: 'alert-text' },
      el('div', {
        class: 'alert-kicker',
        text: `EMERGENCY · ${alert.severity.toUpperCase()}${alert.location ? ` · ${alert.location}` : ''}`,
      }),
      el('strong', { class: 'alert-title', text: alert.title }),
      el('p', { text: alert.message }),
    ),
    el('div', { class: 'alert-actions' }, ack, resolve),
  );
  ack.addEventListener('click', async () => {
    ack.disabled = true;
    try {
      await request('alert:acknowledge', { alertId: alert.id });
      node.classList.add('acknowledged');
      node.dataset.acknowledged = 'true';
      ack.textContent = 'Acknowledged ✓';
      setTimeout(() => removeAlert(alert.id), 1500);
    } catch (e) {
      ack.disabled = false;
      toast(`acknowledge failed: ${e.type}`);
    }
  });
  state.alerts.set(alert.id, { alert, node });
  $('alert-stack').prepend(node);
  document.body.classList.add('emergency');
}

function removeAlert(alertId) {
  const a = state.alerts.get(alertId);
  if (!a) return;
  a.node.remove();
  state.alerts.delete(alertId);
  if (state.alerts.size === 0) document.body.classList.remove('emergency');
}

function resolveEmergency(alertId) {
  if (state.alerts.has(alertId)) toast('Emergency resolved');
  removeAlert(alertId);
}

$('raise-drill').addEventListener('click', async () => {
  const res = await fetch('/api/v1/alerts/emergency', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${state.token}` },
    body: JSON.stringify({
      organizationId: state.school.id,
      title: 'Fire drill',
      message: 'This is a drill: evacuate to the sports field.',
      severity: 'warning',
      location: 'Whole school',
      // A drill ends by itself: without an expiry it would replay to every new sign-in for good.
      expiresAt: new Date(Date.now() + DRILL_TTL_MS).toISOString(),
    }),
  });
  if (!res.ok) toast(`drill refused: ${(await res.json()).type}`);
});

// ─── misc ───────────────────────────────────────────────────────────────────────────────────

let toastTimer;
function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), 3500);
}

document.addEventListener('visibilitychange', () => {
  const c = state.conversations.get(state.openId);
  if (c && document.visibilityState === 'visible') markRead(c);
});

function renderSignIn() {
  const select = $('school');
  select.replaceChildren(...SCHOOLS.map((s) => el('option', { value: s.id, text: s.name })));
  const renderUsers = () => {
    state.school = SCHOOLS.find((s) => s.id === select.value);
    $('user-list').replaceChildren(
      ...state.school.users.map((u) =>
        el(
          'button',
          {
            class: 'user-card',
            'data-testid': 'signin-user',
            'data-user': u.id,
            onclick: () => signIn(u).catch((e) => toast(e.message)),
          },
          el('span', {
            class: 'avatar',
            text: u.name
              .split(' ')
              .map((p) => p[0])
              .join(''),
          }),
          el(
            'span',
            {},
            el('strong', { text: u.name }),
            el('small', { class: 'muted', text: `${u.title} · ${u.role}` }),
          ),
        ),
      ),
    );
  };
  select.onchange = renderUsers;
  renderUsers();
  $('signin').hidden = false;
}

$('signout').addEventListener('click', signOut);
$('back').addEventListener('click', () => {
  document.body.classList.remove('chat-open');
  state.openId = null;
  renderConversationList();
});
renderSignIn();

// A reload of a signed-in tab signs the same demo user in again.
try {
  const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
  const school = SCHOOLS.find((s) => s.id === saved?.school);
  const user = school?.users.find((u) => u.id === saved?.user);
  if (school && user) {
    state.school = school;
    $('school').value = school.id;
    signIn(user).catch((e) => toast(e.message));
  }
} catch {
  sessionStorage.removeItem(SESSION_KEY);
}
