/* global window, document, location, fetch, crypto, setTimeout, clearTimeout, TextEncoder */
// White Cross nurse-station demo: plain JavaScript over the socket.io-client browser bundle
// (window.io). It is also the "plain socket.io-client" example of docs/client-guide.md: every
// call is an emit with an ack ({ok, data} | {ok, error}) and every screen change comes from a
// server event. All user-provided text goes through textContent, never innerHTML.

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
  socket: null,
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

/** emit with an ack and a timeout; resolves data, rejects with the §8 error object. */
function request(event, payload) {
  return new Promise((resolve, reject) => {
    const ack = (err, res) => {
      if (err) return reject({ type: 'ACK_TIMEOUT', message: `no ack for ${event}` });
      if (res.ok) resolve(res.data);
      else reject(res.error);
    };
    const s = state.socket.timeout(10000);
    if (payload === undefined) s.emit(event, ack);
    else s.emit(event, payload, ack);
  });
}

function setStatus(text, kind) {
  const s = $('status');
  s.textContent = text;
  s.dataset.state = kind;
}

async function signIn(user) {
  state.me = user;
  state.token = await fetchToken(user);
  $('signin').hidden = true;
  $('app').hidden = false;
  $('me-name').textContent = user.name;
  $('me-role').textContent = user.role;
  $('school-name').textContent = state.school.name;
  $('raise-drill').hidden = user.role !== 'admin';
  renderPeople();
  renderConversationList();

  const socket = window.io(location.origin, {
    // A function: evaluated on every (re)connect, so a renewed token is used.
    auth: (cb) => cb({ token: state.token }),
    transports: ['websocket', 'polling'],
    reconnectionDelay: 500,
    reconnectionDelayMax: 10000,
    randomizationFactor: 0.5,
  });
  state.socket = socket;
  wireSocket(socket);
}

function signOut() {
  state.socket?.close();
  for (const t of state.typing.values()) for (const h of t.values()) clearTimeout(h);
  Object.assign(state, { me: null, token: null, socket: null, openId: null });
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

function wireSocket(socket) {
  socket.on('connection:confirmed', async () => {
    setStatus('connected', 'connected');
    try {
      const { users } = await request('presence:query', {
        userIds: state.school.users.map((u) => u.id),
      });
      for (const u of users) state.presence.set(u.userId, u);
      renderPeople();
    } catch (e) {
      toast(`presence unavailable: ${e.type}`);
    }
    // After a reconnect, re-join every open conversation from the last seq we have (catch-up).
    for (const [id, c] of state.conversations)
      if (c.joined) await joinConversation(id, lastSeq(c)).catch(() => undefined);
  });
  socket.on('disconnect', (reason) => {
    setStatus(reason === 'io client disconnect' ? 'signed out' : 'reconnecting…', 'reconnecting');
    // The server dropped us (expired or revoked token): never retry with the same token.
    if (reason === 'io server disconnect' && state.me) renewAndReconnect();
  });
  socket.on('connect_error', (err) => {
    setStatus(`offline (${err.message})`, 'offline');
    if (err.message === 'AUTHENTICATION_FAILED' && state.me) renewAndReconnect();
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
  socket.on('conversation:sync-required', ({ conversationId, deliveredSeq }) => {
    const c = state.conversations.get(conversationId);
    joinConversation(conversationId, c ? lastSeq(c) : deliveredSeq).catch(() => undefined);
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
  socket.on('alert:escalated', (e) => showEscalated(e)); // admins only (escalation, §12.7)
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

let renewing = false;
async function renewAndReconnect() {
  if (renewing) return;
  renewing = true;
  try {
    state.token = await fetchToken(state.me);
    state.socket.connect();
  } catch {
    setStatus('signed out (token refused)', 'offline');
  } finally {
    renewing = false;
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

function renderConversationList() {
  const list = $('conversations');
  list.replaceChildren();
  for (const [id, c] of state.conversations) {
    const li = el(
      'li',
      {
        class: id === state.openId ? 'active' : '',
        'data-testid': 'conversation',
        'data-id': id,
        onclick: () => openConversation(id),
      },
      el('span', { text: conversationTitle(c.conversation) }),
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

const lastSeq = (c) => Math.max(0, ...[...c.messages.values()].map((m) => m.seq));

async function joinConversation(conversationId, afterSeq) {
  let from = afterSeq;
  for (;;) {
    const data = await request('conversation:join', {
      conversationId,
      ...(from !== undefined ? { afterSeq: from } : {}),
      limit: 100,
    });
    const c = upsertConversation(data.conversation);
    c.joined = true;
    for (const m of data.messages) addMessage(c, m);
    renderConversationList();
    if (conversationId === state.openId) renderMessages();
    if (from === undefined || !data.hasMore || data.messages.length === 0) return c;
    from = data.messages[data.messages.length - 1].seq;
  }
}

function addMessage(c, m) {
  const isNew = !c.messages.has(m.id);
  c.messages.set(m.id, m);
  return isNew;
}

function openConversation(id) {
  state.openId = id;
  const c = state.conversations.get(id);
  if (!c) return;
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

function tickState(c, m) {
  if (m.pending) return ['pending', '🕓', 'sending'];
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
  const sorted = [...c.messages.values()].sort((a, b) => (a.seq || Infinity) - (b.seq || Infinity));
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
  // The messageId is the idempotency key: a retry after a lost ack reuses it and never duplicates.
  const messageId = crypto.randomUUID();
  const pending = {
    id: messageId,
    conversationId: c.conversation.id,
    seq: 0,
    senderId: state.me.id,
    content,
    createdAt: new Date().toISOString(),
    pending: true,
  };
  c.messages.set(messageId, pending);
  renderMessages();
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      const { message } = await request('message:send', {
        messageId,
        conversationId: c.conversation.id,
        content,
      });
      c.messages.set(message.id, message);
      renderMessages();
      return;
    } catch (e) {
      const retryable = ['ACK_TIMEOUT', 'SERVICE_UNAVAILABLE', 'RATE_LIMIT_EXCEEDED'].includes(
        e.type,
      );
      if (!retryable || attempt === 3) {
        c.messages.delete(messageId);
        renderMessages();
        toast(`message not sent: ${e.type}`);
        return;
      }
      await new Promise((r) => setTimeout(r, e.details?.retryAfterMs ?? 1000 * 2 ** attempt));
    }
  }
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
    ack,
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

// ─── escalation (§12.7) ─────────────────────────────────────────────────────────────────────
// Sent to admins when nobody acknowledged an alert in time and the escalation webhook took it.

function showEscalated({ alertId, escalatedAt }) {
  const a = state.alerts.get(alertId);
  if (a && !a.node.dataset.escalated) {
    a.node.classList.add('escalated');
    a.node.dataset.escalated = escalatedAt;
    a.node.querySelector('.alert-kicker')?.append(' · ESCALATED TO ON-CALL');
  }
  toast(
    `Unacknowledged alert escalated to on-call (${new Date(escalatedAt).toLocaleTimeString()})`,
  );
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
renderSignIn();
