// The proxy's request handling is a list of small steps over one exchange, run in order like Koa
// middleware: a step answers and stops by not calling `next`, or calls it to hand on. A step that
// must act after the rest has run (the audit record) awaits `next` and continues.
import type { Exchange } from './exchange.js';

export type Next = () => Promise<void>;
export type Step = (x: Exchange, next: Next) => Promise<void>;

export function compose(steps: readonly Step[]): (x: Exchange) => Promise<void> {
  return (x) => {
    let last = -1;
    const run = (i: number): Promise<void> => {
      if (i <= last) return Promise.reject(new Error('next() called twice'));
      last = i;
      const step = steps[i];
      return step ? step(x, () => run(i + 1)) : Promise.resolve();
    };
    return run(0);
  };
}
