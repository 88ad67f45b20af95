/**
 * JSON-lines control channel to a child process: commands go to its stdin, replies and events come back
 * one JSON object per stdout line, each with a `type`. Every wait is bounded by a timeout.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One message from a child. */
export type ChildMessage = { readonly type: string } & Record<string, unknown>;

const live = new Set<ChildProcess>();
// A benchmark that dies must not leave a relay or rtpengine behind: kill our own children on exit.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A child process driven over JSON lines. */
export class JsonChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly #inbox: ChildMessage[] = [];
  readonly #stderr: string[] = [];
  #waiter: (() => void) | undefined;
  #exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** Spawns `command args` with piped stdio. */
  constructor(name: string, command: string, args: readonly string[]) {
    this.name = name;
    this.process = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this.process);
    const stdout = this.process.stdout;
    const stderr = this.process.stderr;
    if (stdout === null || stderr === null) throw new Error(`${name}: no stdio pipes`);
    createInterface({ input: stdout }).on('line', (line) => this.#onLine(line));
    createInterface({ input: stderr }).on('line', (line) => {
      this.#stderr.push(line);
      if (this.#stderr.length > 40) this.#stderr.shift();
    });
    this.exit = new Promise((resolve) => {
      this.process.once('error', (error) => {
        this.#stderr.push(`spawn error: ${error.message}`);
        this.#exited = { code: null, signal: null };
        this.#waiter?.();
        resolve(this.#exited);
      });
      this.process.once('exit', (code, signal) => {
        live.delete(this.process);
        this.#exited = { code, signal };
        this.#waiter?.();
        resolve(this.#exited);
      });
    });
  }

  /** Process id (of the command taskset exec'd into). */
  get pid(): number {
    const pid = this.process.pid;
    if (pid === undefined) throw new Error(`${this.name}: not running (${this.stderrTail()})`);
    return pid;
  }

  /** Writes one command line. */
  send(command: object): void {
    this.process.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  /** Waits for the next message of `type` (earlier messages of other types are discarded). */
  async next(type: string, timeoutMs: number): Promise<ChildMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.#inbox.shift();
      if (message !== undefined) {
        if (message.type === 'error') throw new Error(`${this.name}: ${String(message.message)}`);
        if (message.type === type) return message;
        continue;
      }
      if (this.#exited !== undefined) {
        throw new Error(
          `${this.name} exited (code ${this.#exited.code}) waiting for "${type}": ${this.stderrTail()}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`${this.name}: no "${type}" within ${timeoutMs} ms: ${this.stderrTail()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
  }

  /** Sends a command and waits for the reply of `type`. */
  request(command: object, type: string, timeoutMs: number): Promise<ChildMessage> {
    this.send(command);
    return this.next(type, timeoutMs);
  }

  /** Waits up to `timeoutMs` for exit, then SIGKILLs this child (and only it). */
  async stop(timeoutMs: number, signal: NodeJS.Signals | null = null): Promise<void> {
    if (this.#exited !== undefined) return;
    if (signal !== null) this.process.kill(signal);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs);
    await this.exit;
    clearTimeout(timer);
  }

  /** Last lines of the child's stderr, for error messages. */
  stderrTail(): string {
    return this.#stderr.slice(-8).join(' | ');
  }

  #onLine(line: string): void {
    if (!line.startsWith('{')) return;
    try {
      this.#inbox.push(JSON.parse(line) as ChildMessage);
    } catch {
      return;
    }
    this.#waiter?.();
  }
}
