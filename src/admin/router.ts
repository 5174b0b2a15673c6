import { Router } from 'express';
import type { Services } from '../app/services.js';

// STUB: owned by the editors' app work (issue 5).
export function createAdminRouter(services: Services): Router {
  void services;
  return Router();
}
