import type { Services } from '../app/services.js';

// STUB: owned by the editors' app work (issue 5): on a fresh database, create the first admin and
// print its one-time password once.
export async function ensureFirstAdmin(services: Services, out: NodeJS.WritableStream): Promise<void> {
  void services;
  void out;
}
