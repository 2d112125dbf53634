/**
 * The orchestrator ↔ loader protocol (Node IPC over `child_process.fork`). Each request carries
 * an id and gets exactly one reply; progress lines are unsolicited.
 */

export interface ChatConversationSpec {
  /** uuid chosen by the loader's orchestrator so both servers see the same shape. */
  conversationId: string;
  /** User ids; the first one creates the conversation. */
  members: string[];
}

export interface ChatSetup {
  /** Server base URLs; client i connects to targets[i % targets.length] (multi-node). */
  targets: string[];
  secret: string;
  organizationId: string;
  conversations: ChatConversationSpec[];
  /** Size of message content in characters. */
  contentChars: number;
  /** A message arriving before an earlier seq fails the run (one node); else it is counted. */
  strictOrder: boolean;
}

export type SendMode = { mode: 'closed' } | { mode: 'paced'; ratePerSec: number };

export interface ChatResult {
  /** Messages acked inside the measurement window. */
  acked: number;
  windowMs: number;
  /** Compressed base64 HDR histograms (microseconds). */
  ackHist: string;
  deliveryHist: string;
  /** Messages acked during the whole run (warm-up included) — all are checked for delivery. */
  ackedTotal: number;
  nacks: number;
  ackTimeouts: number;
  lostDeliveries: number;
  orderViolations: number;
  /** Arrivals ahead of an earlier seq (all of them order violations when strictOrder). */
  reordered: number;
  /** Paced: scheduled sends skipped because 1,000 were already waiting for their ack. */
  skipped: number;
  errors: string[];
  /** Paced mode: how far the sender fell behind its schedule at the end (ms). */
  scheduleLagMs: number;
}

export interface IdleUser {
  userId: string;
  organizationId: string;
  role: string;
}

export interface IdleConnect {
  target: string;
  secret: string;
  users: IdleUser[];
  concurrency: number;
  /** Listen for `alert:emergency` and time its arrival. */
  listenAlerts: boolean;
  /** Start no new handshake after this many ms (the ramp is bounded in time). */
  deadlineMs: number;
}

export interface IdleConnectResult {
  connected: number;
  failed: number;
  /** Not attempted because the deadline passed. */
  skipped: number;
  durationMs: number;
  errors: string[];
}

export interface IdleStatus {
  open: number;
  disconnected: number;
  disconnectReasons: Record<string, number>;
  /** Pings received per socket since the last mark: min and total. */
  minPings: number;
  socketsWithoutPing: number;
  totalPings: number;
  /** Server events received since the last mark (any event; to wait for quiet). */
  eventsSinceMark: number;
  lastEventAt: number;
}

export interface AlertWaitResult {
  expected: number;
  received: number;
  /** Epoch ms (performance.timeOrigin + now) of the first and last arrival. */
  firstAt: number;
  lastAt: number;
  /** Arrival times relative to `sentAt`, compressed HDR (microseconds). */
  hist: string;
  duplicates: number;
}

export interface StormUser extends IdleUser {
  /** The conversation the user is a participant of (its messages are checked), if any. */
  conversationId?: string;
}

export interface StormConnect {
  target: string;
  secret: string;
  users: StormUser[];
  /** Epoch ms (performance.timeOrigin + now) the storm started: confirm times are relative to it. */
  startAt: number;
  /** Give up on a socket not confirmed after this long. */
  deadlineMs: number;
}

export interface StormConnectResult {
  connected: number;
  failed: number;
  errors: string[];
  /** Confirm times relative to startAt, compressed HDR (microseconds). */
  confirmHist: string;
  /** Epoch ms of the last confirmation. */
  lastAt: number;
}

export interface StormCheck {
  /** Acked message ids per conversation: every participant socket must get each once. */
  expected: Record<string, string[]>;
  /** The emergency alert raised during the storm: each socket gets one first copy. */
  alertId?: string;
  /** Check that nothing is missing (our server replays on connect; the baseline does not). */
  complete: boolean;
}

export interface StormCheckResult {
  sockets: number;
  /** A message id received twice as message:new by one socket. */
  duplicateMessages: number;
  /** A first copy (not `redelivered`) of the alert received twice by one socket. */
  duplicateAlerts: number;
  missingMessages: number;
  missingAlerts: number;
  replayedMessages: number;
  replayedAlerts: number;
  /** Sockets closed during the run (e.g. dropped as slow consumers): not checked for missing. */
  disconnected: number;
  examples: string[];
}

export type LoaderRequest =
  | { id: number; cmd: 'chat:setup'; args: ChatSetup }
  | { id: number; cmd: 'chat:start'; args: SendMode }
  | { id: number; cmd: 'chat:measure' }
  | { id: number; cmd: 'chat:stop'; args: { drainTimeoutMs: number } }
  | { id: number; cmd: 'idle:connect'; args: IdleConnect }
  | { id: number; cmd: 'idle:mark' }
  | { id: number; cmd: 'idle:status' }
  | { id: number; cmd: 'alert:arm'; args: { alertId?: string } }
  | { id: number; cmd: 'alert:wait'; args: { sentAt: number; timeoutMs: number } }
  | { id: number; cmd: 'storm:connect'; args: StormConnect }
  | { id: number; cmd: 'storm:check'; args: StormCheck }
  | { id: number; cmd: 'close' };

export type LoaderCommand = LoaderRequest['cmd'];

export interface LoaderReplies {
  'chat:setup': { clients: number };
  'chat:start': Record<string, never>;
  'chat:measure': Record<string, never>;
  'chat:stop': ChatResult;
  'idle:connect': IdleConnectResult;
  'idle:mark': Record<string, never>;
  'idle:status': IdleStatus;
  'alert:arm': Record<string, never>;
  'alert:wait': AlertWaitResult;
  'storm:connect': StormConnectResult;
  'storm:check': StormCheckResult;
  close: Record<string, never>;
}

export type LoaderReply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface LoaderProgress {
  progress: true;
  /** Acked messages (chat) or open sockets (idle) so far. */
  count: number;
  pid: number;
}

export type LoaderMessage = LoaderReply | LoaderProgress;
