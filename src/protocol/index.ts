export * from './constants.js';
export * from './errors.js';
export * from './events.js';
export * from './models.js';
export * from './rooms.js';
