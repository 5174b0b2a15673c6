import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// MJML is needed once per issue version (the frame) and for the odd subscriber mail, yet loading it
// costs a process about 50 MB that it never gives back: its code and parser stay resident for the
// life of a long send. So it runs in a child process that is started on demand and ends after a
// short idle time. A process, not a worker thread: an ended thread's heap stays in ours, pooled by
// V8 for about 8 s, which is exactly when a send starts building editions (the sender's peak RSS
// was 210 MB with the thread, 171 MB without MJML, sample issue, Node 24); an ended process gives
// everything back at once. Starting one costs about 350 ms (Node, then loading mjml), paid at most
// once per burst of compiles; a send's other senders read the frame its start compiled
// (src/render/compiled-frames.ts) and never start one.

/** Strict validation (a template mistake fails loudly), comments dropped; `errors` lists every problem. */
export interface MjmlResult {
  html: string;
  errors: string[];
}

export interface MjmlCompilerOptions {
  /** How long the child waits for another compile before it ends. */
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

const CHILD_SCRIPT = fileURLToPath(new URL('./mjml-process.js', import.meta.url));
const DEFAULT_IDLE_MS = 1_000;
/**
 * A small young generation and heap cap make V8 collect the compiler's garbage early instead of
 * growing its heap fourfold first. The whole sample issue (126,000 characters of MJML) compiles
 * within a 24 MB old generation; the cap is ten times that, and past it the child ends and the
 * compile fails with the exit code as its reason. Plain JavaScript with no loader flags: `--import
 * tsx` in development would start a loader thread of its own.
 */
const CHILD_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=256'];

export class MjmlCompiler {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly idleMs: number;
  private releaseWhenIdle = false;

  constructor(options: MjmlCompilerOptions = {}) {
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  }

  /** Whether the compiler process is running now (the tests look). */
  get running(): boolean {
    return this.child !== null;
  }

  /** The compiler process's id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  compile(mjml: string): Promise<MjmlResult> {
    const child = this.ensureChild();
    const id = ++this.nextId;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    // Keeps this process alive while a compile is owed; an idle child never does.
    setReferenced(child, true);
    return new Promise<MjmlResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ id, mjml });
    });
  }

  /**
   * Ends the child as soon as no compile is owed, without waiting out the idle time: for a caller
   * that knows it needs no more MJML for a while (a send, once its issue's frame is compiled).
   */
  release(): void {
    if (!this.child) return;
    if (this.pending.size > 0) this.releaseWhenIdle = true;
    else this.endChild();
  }

  /** Ends the child now; compiles still owed are rejected. */
  async close(): Promise<void> {
    const child = this.child;
    this.stopped(new Error('the MJML compiler was closed'));
    if (child) await end(child);
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(CHILD_SCRIPT, [], { execArgv: CHILD_FLAGS, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (reply: Reply) => this.settle(reply));
    child.on('error', (error: Error) => {
      if (this.child === child) this.stopped(new Error(`the MJML compiler failed: ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      if (this.child === child)
        this.stopped(new Error(`the MJML compiler stopped (${signal ? `signal ${signal}` : `exit code ${code}`})`));
    });
    this.child = child;
    return child;
  }

  private settle(reply: Reply): void {
    const pending = this.pending.get(reply.id);
    this.pending.delete(reply.id);
    pending?.resolve({ html: reply.html, errors: reply.errors });
    if (this.pending.size > 0 || !this.child) return;
    setReferenced(this.child, false);
    if (this.releaseWhenIdle) return this.endChild();
    this.idleTimer = setTimeout(() => this.endChild(), this.idleMs);
    this.idleTimer.unref();
  }

  private endChild(): void {
    if (this.pending.size > 0) return;
    const child = this.detach();
    if (child) void end(child);
  }

  private stopped(error: Error): void {
    this.detach();
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }

  /** Forgets the child and its idle state; returns the child for the caller to end, if any. */
  private detach(): ChildProcess | null {
    const child = this.child;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.releaseWhenIdle = false;
    this.child = null;
    return child;
  }
}

/** Whether the child (and its message channel) keeps this process's event loop alive. */
function setReferenced(child: ChildProcess, referenced: boolean): void {
  if (referenced) {
    child.ref();
    child.channel?.ref();
  } else {
    child.unref();
    child.channel?.unref();
  }
}

/** Ends the child: closing its channel makes it exit; a kill follows for one that does not. */
async function end(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Referenced until it exits: an idle child is not, and `await close()` must not find the event loop empty.
  child.ref();
  if (child.connected) child.disconnect();
  const kill = setTimeout(() => child.kill('SIGKILL'), 2_000);
  kill.unref();
  await exited;
  clearTimeout(kill);
}
