import type { Services } from '../src/app/services.js';
import { insertFirstEditor } from './editor-repository.js';
import { generatePassword, hashPassword } from './auth/passwords.js';

export const FIRST_ADMIN_EMAIL = 'admin@localhost';

/**
 * On a database with no editor, creates the admin `admin@localhost` with a random password and
 * prints it once to `out`. Only its hash is stored, so it can never be shown again: the admin
 * signs in with it and must then choose their own (the app opens nothing else until they have).
 */
export async function ensureFirstAdmin(services: Services, out: NodeJS.WritableStream): Promise<void> {
  const password = generatePassword();
  const created = await insertFirstEditor(services.db, FIRST_ADMIN_EMAIL, 'admin', await hashPassword(password));
  if (!created) return;
  services.logger.info({ email: FIRST_ADMIN_EMAIL }, 'created the first admin');
  out.write(
    [
      '',
      'Created the first editor account (admin). Sign in at /admin/login with:',
      `  email:    ${FIRST_ADMIN_EMAIL}`,
      `  password: ${password}`,
      'This password is shown only this once, and at the first sign-in you replace it with your own.',
      '',
      '',
    ].join('\n'),
  );
}
