/**
 * Generates docs/events.md and docs/asyncapi.yaml from the code: the event catalog
 * (src/protocol/catalog.ts), the DTO classes' class-validator metadata (client payloads),
 * NAMESPACE_EVENTS and DEFAULT_RATE_LIMITS. test/docs.test.ts compares the committed files with
 * a fresh generation; `npm run docs:generate` rewrites them.
 */
import 'reflect-metadata';
import { getMetadataStorage } from 'class-validator';
import {
  DEFAULT_RATE_LIMITS,
  RATE_LIMIT_KEYS,
  type BucketSpec,
  type RateLimitKey,
} from '../src/config/config.js';
import {
  CLIENT_EVENTS,
  MODEL_SCHEMAS,
  obj,
  SERVER_EVENTS,
  type ClientEventDoc,
  type Schema,
} from '../src/protocol/catalog.js';
import { ID_PATTERN } from '../src/protocol/constants.js';
import {
  NAMESPACE_EVENTS,
  type ClientEventName,
  type ServerEventName,
} from '../src/protocol/events.js';

export const clientEventNames = Object.keys(CLIENT_EVENTS) as ClientEventName[];
export const serverEventNames = Object.keys(SERVER_EVENTS) as ServerEventName[];

// ─── client payload schemas from the DTOs ──────────────────────────────────────────────────

interface Meta {
  type: string;
  name?: string;
  propertyName: string;
  constraints?: unknown[];
  each?: boolean;
}

/** JSON Schema of a DTO class, read from its class-validator decorators (the validation itself). */
export function dtoSchema(dto: new () => object): Schema {
  const metas = getMetadataStorage().getTargetValidationMetadatas(
    dto,
    '',
    true,
    false,
  ) as unknown as Meta[];
  const props: Record<string, Schema> = {};
  const optional = new Set<string>();
  const order: string[] = [];
  for (const m of metas) if (!order.includes(m.propertyName)) order.push(m.propertyName);
  for (const name of order) {
    const own = metas.filter((m) => m.propertyName === name);
    const s: Schema = {};
    const item: Schema = {};
    for (const m of own) {
      const target = m.each ? item : s;
      const c = m.constraints ?? [];
      switch (m.name ?? '') {
        case 'isOptional':
          optional.add(name);
          break;
        case 'isString':
          target.type = 'string';
          break;
        case 'isDefined':
          break; // required: not in `optional`
        case 'isInt':
          target.type = 'integer';
          break;
        case 'isBoolean':
          target.type = 'boolean';
          break;
        case 'isObject':
          target.type = 'object';
          break;
        case 'isArray':
          s.type = 'array';
          break;
        case 'isUuid':
          target.type = 'string';
          target.format = 'uuid';
          if (c[0] === '4') target.description = 'uuid v4';
          break;
        case 'matches':
          target.pattern = (c[0] as RegExp).source;
          break;
        case 'isIn':
          target.type = 'string';
          target.enum = c[0] as unknown[];
          break;
        case 'minLength':
          target.minLength = c[0] as number;
          break;
        case 'maxLength':
          target.maxLength = c[0] as number;
          break;
        case 'min':
          target.minimum = c[0] as number;
          break;
        case 'max':
          target.maximum = c[0] as number;
          break;
        case 'arrayMinSize':
          s.minItems = c[0] as number;
          break;
        case 'arrayMaxSize':
          s.maxItems = c[0] as number;
          break;
        case 'maxJsonBytes':
          target.description = [target.description, `at most ${c[0] as number} bytes as JSON`]
            .filter(Boolean)
            .join('; ');
          break;
        case 'noControlCharacters':
          // §12.3: no C0 control character except tab, LF, CR (in keys and string values too).
          target.description = [target.description, 'no control characters except tab, LF, CR']
            .filter(Boolean)
            .join('; ');
          break;
        case 'isIso8601':
          target.type = 'string';
          target.format = 'date-time';
          break;
        case '':
          // @Allow(): any JSON value, may be absent.
          if (m.type === 'whitelistValidation') optional.add(name);
          else throw new Error(`${dto.name}.${name}: unnamed validator of type ${m.type}`);
          break;
        default:
          throw new Error(`${dto.name}.${name}: no schema mapping for validator "${m.name}"`);
      }
    }
    if (s.type === 'array') s.items = { type: 'string', ...item };
    props[name] = s;
  }
  return obj(props, [...optional]);
}

export function clientPayloadSchema(event: ClientEventName): Schema | null {
  const doc: ClientEventDoc = CLIENT_EVENTS[event];
  return doc.dto ? dtoSchema(doc.dto) : null;
}

export function rateLimitOf(event: ClientEventName): { key: RateLimitKey; spec: BucketSpec } {
  const key = (RATE_LIMIT_KEYS as readonly string[]).includes(event)
    ? (event as RateLimitKey)
    : 'default';
  return { key, spec: DEFAULT_RATE_LIMITS[key] };
}

export function namespacesOf(event: ClientEventName): string[] {
  return (Object.keys(NAMESPACE_EVENTS) as Array<keyof typeof NAMESPACE_EVENTS>).filter((ns) =>
    NAMESPACE_EVENTS[ns].includes(event),
  );
}

// ─── markdown ──────────────────────────────────────────────────────────────────────────────

function range(min?: number, max?: number, unit = ''): string {
  if (min !== undefined && max !== undefined) return ` ${min}..${max}${unit}`;
  if (min !== undefined) return ` ≥ ${min}${unit}`;
  if (max !== undefined) return ` ≤ ${max}${unit}`;
  return '';
}

/** A compact TypeScript-like rendering of a schema for the tables. */
export function brief(s: Schema): string {
  if (s.$ref) return s.$ref.split('/').pop()!;
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const nullable = types.includes('null');
  const t = types.find((x) => x !== 'null');
  let out: string;
  if (t === 'object' && s.properties) {
    const req = new Set(s.required ?? []);
    const fields = Object.entries(s.properties).map(
      ([k, v]) => `${k}${req.has(k) ? '' : '?'}: ${brief(v)}`,
    );
    out = fields.length ? `{${fields.join(', ')}}` : '{}';
  } else if (t === 'object') {
    out = 'object';
  } else if (t === 'array') {
    out = `${brief(s.items ?? {})}[]${range(s.minItems, s.maxItems, ' items')}`;
  } else if (t === 'string') {
    if (s.format === 'date-time') out = 'ISO time';
    else if (s.format === 'uuid') out = s.description === 'uuid v4' ? 'uuid v4' : 'uuid';
    else if (s.pattern === ID_PATTERN.source) out = 'id';
    else if (s.pattern) out = `string \`${s.pattern}\``;
    else out = `string${range(s.minLength, s.maxLength, ' chars')}`;
  } else if (t === 'integer') {
    out = `int${range(s.minimum, s.maximum)}`;
  } else if (t) {
    out = t;
  } else {
    out = 'any';
  }
  if (s.description && t === 'object' && !s.properties) out += ` (${s.description})`;
  return nullable ? `${out} \\| null` : out;
}

const every = (ms: number) => (ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

export function renderEventsMarkdown(): string {
  const lines: string[] = [];
  const p = (...l: string[]) => lines.push(...l);
  p(
    '# Event catalog',
    '',
    '<!-- GENERATED by `npm run docs:generate` from src/protocol/catalog.ts, the DTOs in',
    '     src/protocol/dto/client.dto.ts, NAMESPACE_EVENTS and DEFAULT_RATE_LIMITS. Do not edit by hand:',
    '     test/docs.test.ts fails when this file and the code disagree. -->',
    '',
    'Every event of the White Cross real-time protocol. Types are in',
    '`packages/client/src/protocol/events.ts` (`ClientEventSpec`, `ServerEventSpec`), shipped with the SDK',
    '(`@white-cross/realtime-client`, also `@white-cross/realtime-client/protocol`) and imported by the server.',
    'The same catalog as an AsyncAPI 3 document: [asyncapi.yaml](asyncapi.yaml).',
    '',
    '## Conventions',
    '',
    '- **Acks.** Every client event takes an optional ack callback, answered with exactly',
    '  `{ok: true, data}` or `{ok: false, error}` (error object, see [errors.md](errors.md)). Without a',
    '  callback a failure arrives as an `error` event on the socket.',
    '- **Validation.** Payloads are whitelisted: unknown properties, wrong types, out-of-range values, objects',
    '  deeper than 8 levels and the keys `__proto__`/`constructor`/`prototype` give `VALIDATION_ERROR` and change nothing.',
    '- **Ids.** `id` means a string matching the pattern shown (user and organization ids: `^[A-Za-z0-9_-]{1,64}$`).',
    '  A conversation or message of another organization answers `RESOURCE_NOT_FOUND`; one of your own',
    '  organization you may not use, `AUTHORIZATION_FAILED`.',
    '- **Rate limits.** A token bucket per user and event, shared by all of the user’s sockets (and nodes with',
    '  Redis); checked before validation. Over the limit: `RATE_LIMIT_EXCEEDED` with `details.retryAfterMs`.',
    '  Defaults below; `RATE_LIMITS` overrides them (see [configuration.md](configuration.md)).',
    '- **Namespaces.** `/` serves everything; `/communication` only the conversation and message events, `ping`',
    '  and `auth:refresh`. An event the namespace does not serve answers `BAD_REQUEST`.',
    '- **Times** are ISO-8601 strings in UTC.',
    '',
    '## Client → server',
    '',
    '| event | payload | ack `data` | namespaces | rate limit (tokens, refill) |',
    '|---|---|---|---|---|',
  );
  for (const e of clientEventNames) {
    const payload = clientPayloadSchema(e);
    const { key, spec } = rateLimitOf(e);
    const doc: ClientEventDoc = CLIENT_EVENTS[e];
    p(
      `| \`${e}\` | ${payload ? brief(payload) + (doc.optionalPayload ? ' (optional)' : '') : 'none'} | ${brief(doc.ack)} | ${namespacesOf(
        e,
      )
        .map((n) => `\`${n}\``)
        .join(
          ', ',
        )} | ${spec.maxTokens}, 1 every ${every(spec.refillIntervalMs)}${key === 'default' ? ' (default)' : ''} |`,
    );
  }
  p('');
  for (const e of clientEventNames) {
    const doc: ClientEventDoc = CLIENT_EVENTS[e];
    const payload = clientPayloadSchema(e);
    const { key, spec } = rateLimitOf(e);
    p(
      `### \`${e}\``,
      '',
      doc.summary,
      '',
      `- Direction: client → server`,
      `- Payload: ${payload ? `\`${brief(payload).replace(/\\\|/g, '|')}\`` + (doc.optionalPayload ? ' (may be omitted)' : '') : 'none'}`,
      `- Ack data: \`${brief(doc.ack).replace(/\\\|/g, '|')}\``,
      `- Namespaces: ${namespacesOf(e)
        .map((n) => `\`${n}\``)
        .join(', ')}`,
      `- Rate limit: bucket \`${key}\`${key === 'default' ? ' (one per event)' : ''}, ${spec.maxTokens} tokens, 1 back every ${every(spec.refillIntervalMs)}${doc.rateLimitNote ? `; ${doc.rateLimitNote}` : ''}`,
      `- On success: ${doc.effects}`,
      '',
    );
  }
  p('## Server → client', '', '| event | payload | audience | namespaces |', '|---|---|---|---|');
  for (const e of serverEventNames) {
    const d = SERVER_EVENTS[e];
    p(
      `| \`${e}\` | ${brief(d.payload)} | ${d.audience} | ${d.namespaces.map((n) => `\`${n}\``).join(', ')} |`,
    );
  }
  p('');
  for (const e of serverEventNames) {
    const d = SERVER_EVENTS[e];
    p(
      `### \`${e}\``,
      '',
      d.summary,
      '',
      `- Direction: server → client`,
      `- Payload: \`${brief(d.payload).replace(/\\\|/g, '|')}\``,
      `- Audience: ${d.audience}`,
      `- Namespaces: ${d.namespaces.map((n) => `\`${n}\``).join(', ')}`,
      '',
    );
  }
  p('## Shapes', '');
  for (const [name, s] of Object.entries(MODEL_SCHEMAS))
    p(`- \`${name}\`: \`${brief(s).replace(/\\\|/g, '|')}\``);
  p('');
  return lines.join('\n');
}

// ─── AsyncAPI 3 ────────────────────────────────────────────────────────────────────────────

const key = (direction: 'client' | 'server', event: string) =>
  `${direction}.${event.replace(/:/g, '.')}`;

function ackSchema(data: Schema): Schema {
  return {
    oneOf: [
      obj({ ok: { type: 'boolean', const: true }, data }),
      obj({
        ok: { type: 'boolean', const: false },
        error: { $ref: '#/components/schemas/ErrorObject' },
      }),
    ],
  };
}

/** The AsyncAPI 3.0.0 document: one channel per namespace, one operation per event. */
export function buildAsyncApi(version: string): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  const channels: Record<
    string,
    { address: string; title: string; description: string; messages: Record<string, unknown> }
  > = {
    root: {
      address: '/',
      title: 'Main namespace',
      description: 'Everything: chat, presence, notifications, alerts, channels.',
      messages: {},
    },
    communication: {
      address: '/communication',
      title: 'Communication namespace',
      description: 'Conversation and message events only (same auth, same data as `/`).',
      messages: {},
    },
  };
  const operations: Record<string, unknown> = {};
  const channelOf = (ns: string) => (ns === '/' ? 'root' : 'communication');

  for (const e of clientEventNames) {
    const doc: ClientEventDoc = CLIENT_EVENTS[e];
    const k = key('client', e);
    const payload = clientPayloadSchema(e);
    const { key: bucket, spec } = rateLimitOf(e);
    messages[k] = {
      name: e,
      title: e,
      summary: doc.summary,
      ...(payload ? { payload } : {}),
      'x-rate-limit': {
        bucket,
        maxTokens: spec.maxTokens,
        refillIntervalMs: spec.refillIntervalMs,
      },
    };
    messages[`${k}.ack`] = { name: `${e} ack`, title: `${e} ack`, payload: ackSchema(doc.ack) };
    for (const ns of namespacesOf(e)) {
      const ch = channelOf(ns);
      channels[ch].messages[k] = { $ref: `#/components/messages/${k}` };
      channels[ch].messages[`${k}.ack`] = { $ref: `#/components/messages/${k}.ack` };
      operations[`${ch}.receive.${e.replace(/:/g, '.')}`] = {
        action: 'receive',
        channel: { $ref: `#/channels/${ch}` },
        summary: doc.summary,
        description: `On success: ${doc.effects}.`,
        messages: [{ $ref: `#/channels/${ch}/messages/${k}` }],
        reply: {
          channel: { $ref: `#/channels/${ch}` },
          messages: [{ $ref: `#/channels/${ch}/messages/${k}.ack` }],
        },
      };
    }
  }
  for (const e of serverEventNames) {
    const d = SERVER_EVENTS[e];
    const k = key('server', e);
    messages[k] = {
      name: e,
      title: e,
      summary: d.summary,
      payload: d.payload,
      'x-audience': d.audience,
    };
    for (const ns of d.namespaces) {
      const ch = channelOf(ns);
      channels[ch].messages[k] = { $ref: `#/components/messages/${k}` };
      operations[`${ch}.send.${e.replace(/:/g, '.')}`] = {
        action: 'send',
        channel: { $ref: `#/channels/${ch}` },
        summary: d.summary,
        description: `Audience: ${d.audience}.`,
        messages: [{ $ref: `#/channels/${ch}/messages/${k}` }],
      };
    }
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'White Cross Realtime',
      version,
      description:
        'Real-time gateway of the White Cross school-health platform (chat, presence, notifications, health alerts) over Socket.IO v4. ' +
        'Every client event takes an optional ack callback (the operation reply). Authenticate with a JWT in the handshake `auth.token`. ' +
        'See docs/client-guide.md and docs/events.md.',
    },
    defaultContentType: 'application/json',
    servers: {
      development: {
        host: 'localhost:3000',
        protocol: 'ws',
        pathname: '/socket.io',
        description: 'Socket.IO v4 (Engine.IO v4; websocket and polling) on the HTTP port.',
        security: [{ $ref: '#/components/securitySchemes/jwt' }],
      },
    },
    channels,
    operations,
    components: {
      messages,
      schemas: MODEL_SCHEMAS,
      securitySchemes: {
        jwt: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description:
            'A JWT (HS256, or RS256/ES256 with a configured key) sent as `auth.token` in the Socket.IO handshake, or `Authorization: Bearer`, or `?token=` when WS_ALLOW_QUERY_TOKEN is true.',
        },
      },
    },
  };
}

// ─── a small YAML emitter (block style; prettier formats the result) ──────────────────────

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_.$-]*$/;
const scalar = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));
const isEmpty = (v: unknown) =>
  Array.isArray(v)
    ? v.length === 0
    : typeof v === 'object' && v !== null && Object.keys(v).length === 0;
const isScalar = (v: unknown) => v === null || typeof v !== 'object';

export function toYaml(v: unknown, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    return v
      .map((item) => {
        if (isScalar(item) || isEmpty(item))
          return `${pad}- ${isScalar(item) ? scalar(item) : JSON.stringify(item)}\n`;
        const inner = toYaml(item, indent + 2);
        return `${pad}- ${inner.slice(indent + 2)}`;
      })
      .join('');
  }
  return Object.entries(v as Record<string, unknown>)
    .filter(([, val]) => val !== undefined)
    .map(([k, val]) => {
      const kk = PLAIN_KEY.test(k) ? k : JSON.stringify(k);
      if (isScalar(val)) return `${pad}${kk}: ${scalar(val)}\n`;
      if (isEmpty(val)) return `${pad}${kk}: ${JSON.stringify(val)}\n`;
      return `${pad}${kk}:\n${toYaml(val, indent + 2)}`;
    })
    .join('');
}
