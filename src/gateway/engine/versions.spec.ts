import { describe, expect, it } from 'vitest';
import {
  checkEngineInternals,
  installedVersion,
  versionMismatches,
  WRITTEN_FOR,
} from './versions.js';

describe('engine internals and versions checked at start', () => {
  it('reads the installed versions from the packages this process loads', () => {
    expect(installedVersion('engine.io')).toMatch(/^\d+\.\d+\.\d+/);
    expect(installedVersion('socket.io-adapter')).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('the pinned packages are the versions the tweaks were written for, with their internals', () => {
    expect(versionMismatches()).toEqual([]);
    expect(installedVersion('engine.io')).toBe(WRITTEN_FOR['engine.io']);
    expect(checkEngineInternals()).toEqual([]);
  });
});
