import type { RegisterCommands } from '../src/cli/context.js';

// STUB: owned by the sending work (issue 4).
export const registerSchedulerCommands: RegisterCommands = () => {};
