import type { Services } from '../src/app/services.js';
import type { SignupDeps } from '../subscribers/signup.js';

/** What every API route handler receives (dependencies passed as one object). */
export interface ApiContext {
  services: Services;
  /** Double opt-in sign-ups share the sign-up page's code and mail. */
  signup: SignupDeps;
}
