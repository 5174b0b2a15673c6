import { Router } from 'express';
import type { Services } from '../src/app/services.js';

// STUB: owned by the subscribers work (issue 3).
export function createSubscriberRouter(services: Services): Router {
  void services;
  return Router();
}
