import { randomUUID } from 'node:crypto';

/** Unique ids per test, so suites sharing a database or Redis never collide. */
export const uid = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
