import { Worker } from 'node:worker_threads';

// MJML is needed once per issue version (the frame) and for the odd subscriber mail, yet loading it
// costs a process about 50 MB that it never gives back: its code and parser stay resident for the
// life of a long send. So it runs in a worker thread that is started on demand and ends after a
// short idle time; a thread's heap goes back to the system when it ends (V8 keeps its pages pooled
// for about 8 s first, measured on Node 24, which is why a send's senders read the frame the send's
// start compiled instead: src/render/compiled-frames.ts). Restarting costs about 300 ms (loading
// mjml), paid at most once per burst of compiles.

/** Strict validation (a template mistake fails loudly), comments dropped; `errors` lists every problem. */
export interface MjmlResult {
  html: string;
  errors: string[];
}

export interface MjmlCompilerOptions {
  /** How long the thread waits for another compile before it ends. */
  idleMs?: number;
}

interface Reply {
  id: number;
  html: string;
  errors: string[];
}

interface Pending {
  resolve(result: MjmlResult): void;
  reject(error: Error): void;
}

const WORKER_URL = new URL('./mjml-worker.js', import.meta.url);
const DEFAULT_IDLE_MS = 1_000;
/**
 * A small young generation and heap cap make V8 collect the compiler's garbage early instead of
 * growing its heap fourfold first: 13 MB less at the moment of a compile, measured on the sample
 * issue. That whole issue (126,000 characters of MJML) compiles within a 24 MB old generation; the
 * cap is ten times that, and past it the compile fails with "reaching memory limit" as its reason.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 256 };

export class MjmlCompiler {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly idleMs: number;
  private releaseWhenIdle = false;

  constructor(options: MjmlCompilerOptions = {}) {
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  }

  /** Whether the compiler thread is running now (the tests look). */
  get running(): boolean {
    return this.worker !== null;
  }

  compile(mjml: string): Promise<MjmlResult> {
    const worker = this.ensureWorker();
    const id = ++this.nextId;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    // Keeps the process alive while a compile is owed; an idle thread never does.
    worker.ref();
    return new Promise<MjmlResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, mjml });
    });
  }

  /**
   * Ends the thread as soon as no compile is owed, without waiting out the idle time: for a caller
   * that knows it needs no more MJML for a while (a send, once its issue's frame is compiled).
   */
  release(): void {
    if (!this.worker) return;
    if (this.pending.size > 0) this.releaseWhenIdle = true;
    else this.endThread();
  }

  /** Ends the thread now; compiles still owed are rejected. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.stopped(new Error('the MJML compiler was closed'));
    await worker?.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    // Plain JavaScript: no loader flags (`--import tsx` in development would start a loader thread of its own).
    const worker = new Worker(WORKER_URL, { execArgv: [], resourceLimits: WORKER_LIMITS });
    worker.on('message', (reply: Reply) => this.settle(reply));
    worker.on('error', (error: Error) => {
      if (this.worker === worker) this.stopped(new Error(`the MJML compiler failed: ${error.message}`));
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.stopped(new Error(`the MJML compiler stopped (exit code ${code})`));
    });
    this.worker = worker;
    return worker;
  }

  private settle(reply: Reply): void {
    const pending = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    pending?.resolve({ html: reply.html, errors: reply.errors });
    if (this.pending.size > 0 || !this.worker) return;
    this.worker.unref();
    if (this.releaseWhenIdle) return this.endThread();
    this.idleTimer = setTimeout(() => this.endThread(), this.idleMs);
    this.idleTimer.unref();
  }

  private endThread(): void {
    if (this.pending.size > 0) return;
    void this.detach()?.terminate();
  }

  private stopped(error: Error): void {
    this.detach();
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  /** Forgets the thread and its idle state; returns the thread for the caller to end, if any. */
  private detach(): Worker | null {
    const worker = this.worker;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.releaseWhenIdle = false;
    this.worker = null;
    return worker;
  }
}
