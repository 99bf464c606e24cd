// Seeded randomness: every CPU draws from its own stream derived from (seed, cpu).

/** splitmix32: small, fast, good enough to pick delays and addresses. */
export class Rng {
  private s: number;
  constructor(seed: number, stream: number) {
    this.s = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) | 0;
    for (let i = 0; i < 4; i++) this.next();
  }
  /** uniform in [0, 2^32) */
  next(): number {
    this.s = (this.s + 0x9e3779b9) | 0;
    let z = this.s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
  /** uniform in [0, 1) */
  float(): number {
    return this.next() / 4294967296;
  }
  /** uniform integer in [0, n) */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }
}
