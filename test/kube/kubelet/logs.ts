/** Per-pod captured stdout/stderr, bounded (the oldest bytes go first). */

/** A bounded text buffer. */
export class LogBuffer {
  #chunks: string[] = [];
  #bytes = 0;
  readonly #max: number;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  append(text: string): void {
    this.#chunks.push(text);
    this.#bytes += text.length;
    while (this.#bytes > this.#max && this.#chunks.length > 1) {
      const dropped = this.#chunks.shift() ?? '';
      this.#bytes -= dropped.length;
    }
  }

  text(): string {
    return this.#chunks.join('');
  }
}

/** Logs of every pod incarnation, keyed by `namespace/name` then pod uid (insertion-ordered). */
export class PodLogs {
  readonly #pods = new Map<string, Map<string, LogBuffer>>();
  readonly #maxBytes: number;

  constructor(maxBytesPerPod: number) {
    this.#maxBytes = maxBytesPerPod;
  }

  /** The buffer of one pod incarnation. */
  buffer(key: string, uid: string): LogBuffer {
    let byUid = this.#pods.get(key);
    if (byUid === undefined) {
      byUid = new Map();
      this.#pods.set(key, byUid);
    }
    let buf = byUid.get(uid);
    if (buf === undefined) {
      buf = new LogBuffer(this.#maxBytes);
      byUid.set(uid, buf);
      // Keep at most the last few incarnations of a name.
      while (byUid.size > 4) byUid.delete(byUid.keys().next().value ?? '');
    }
    return buf;
  }

  /** Everything the pods named `key` printed, oldest incarnation first. */
  text(key: string): string {
    return [...(this.#pods.get(key)?.values() ?? [])].map((b) => b.text()).join('');
  }
}
