import type { RegisterCommands } from '../src/cli/context.js';

// STUB: owned by the subscribers work (issue 3).
export const registerSubscriberCommands: RegisterCommands = () => {};
