import { describe, expect, it } from 'vitest';
import { ROLES } from '../protocol/constants.js';
import { rooms } from '../protocol/rooms.js';
import { channelRoom, parseChannel } from './channel.service.js';

/**
 * Room names of channels never coincide with another family's rooms (§12.1): whatever ids and
 * topics a client picks within the channel pattern, an `org:` channel cannot name a user's room,
 * and a `user:` channel resolves inside the subscriber's organization.
 */
describe('channel rooms', () => {
  const ids = ['a', 'user', 'role', 'org', 'x-1', 'A_b'];
  const topics = ['user', 'role', 'org', 'meds', 'x-1'];

  it('org channels and user channels of every id/topic combination map to distinct rooms', () => {
    const byRoom = new Map<string, string>();
    for (const org of ids) {
      for (const id of ids) {
        for (const t of [undefined, ...topics]) {
          for (const kind of ['org', 'user'] as const) {
            const channel = `${kind}:${id}${t ? `:${t}` : ''}`;
            const room = channelRoom(parseChannel(channel), org);
            const key = kind === 'org' ? channel : `${org}|${channel}`;
            const seen = byRoom.get(room);
            expect(seen === undefined || seen === key, `${key} vs ${seen} → ${room}`).toBe(true);
            byRoom.set(room, key);
          }
        }
      }
    }
  });

  it('an org channel never names a user room or a role room of any organization', () => {
    for (const org of ids)
      for (const user of ids)
        for (const t of [undefined, ...topics]) {
          const room = channelRoom(parseChannel(`org:${org}${t ? `:${t}` : ''}`), org);
          expect(room).not.toBe(rooms.member(org, user));
          for (const role of ROLES) expect(room).not.toBe(rooms.orgRole(org, role));
        }
  });

  it('user:<id> is the user’s room in the given organization only', () => {
    expect(channelRoom(parseChannel('user:nurse-1'), 'A')).toBe(rooms.member('A', 'nurse-1'));
    expect(channelRoom(parseChannel('user:nurse-1'), 'B')).not.toBe(
      channelRoom(parseChannel('user:nurse-1'), 'A'),
    );
    expect(channelRoom(parseChannel('user:nurse-1:meds'), 'A')).toBe('user:A:nurse-1:meds');
  });
});
