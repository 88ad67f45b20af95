/** Fixed-bin histogram over a preallocated array: recording allocates nothing. */
export class Histogram {
  readonly #bins: Uint32Array;
  readonly #binWidth: number;
  #count = 0;
  #sum = 0;
  #max = 0;

  /** `bins` bins of `binWidth` units each; larger values land in the last bin (max stays exact). */
  constructor(bins: number, binWidth: number) {
    this.#bins = new Uint32Array(bins);
    this.#binWidth = binWidth;
  }

  /** Records one value (negative values count as 0). */
  record(value: number): void {
    const v = value > 0 ? value : 0;
    const bin = Math.min(this.#bins.length - 1, Math.floor(v / this.#binWidth));
    this.#bins[bin] = (this.#bins[bin] ?? 0) + 1;
    this.#count++;
    this.#sum += v;
    if (v > this.#max) this.#max = v;
  }

  /** Values recorded. */
  get count(): number {
    return this.#count;
  }

  /** The q-quantile (0 < q <= 1) as the upper edge of its bin; 0 when empty. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < this.#bins.length; i++) {
      seen += this.#bins[i] ?? 0;
      if (seen >= rank) return Math.min(this.#max, (i + 1) * this.#binWidth);
    }
    return this.#max;
  }

  /** Mean of the recorded values. */
  mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /** Largest recorded value. */
  max(): number {
    return this.#max;
  }
}
