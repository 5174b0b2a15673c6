import type { RegisterCommands } from '../cli/context.js';

// STUB: owned by the editors' app work (issue 5).
export const registerEditorCommands: RegisterCommands = () => {};
