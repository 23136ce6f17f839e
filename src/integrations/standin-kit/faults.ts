// What the stand-ins' fault injection shares: a queue of faults that each hit the next `count` requests
// they match and are then gone, and answers held after the request was carried out. Each stand-in
// says what its faults are, how they match a request and how its service answers them
// (jira/standin/faults.ts, slack/standin/faults.ts, aws/standins/iam-faults.ts).

/** A queued fault and how many more requests it hits. */
export interface Queued<F> {
  fault: F;
  remaining: number;
}

export interface FaultQueue<F> {
  /** Queues `fault` for the next `count` requests it matches. */
  add(fault: F, count: number): void;
  /** The first queued fault `hits` accepts, used up by one; undefined when none does. */
  take(hits: (fault: F) => boolean): F | undefined;
  /** The faults still waiting for a request, oldest first. */
  readonly pending: ReadonlyArray<Readonly<Queued<F>>>;
  /** Drops every queued fault. */
  clear(): void;
}

export function createFaultQueue<F>(): FaultQueue<F> {
  let queue: Queued<F>[] = [];
  return {
    add(fault, count) {
      queue.push({ fault, remaining: count });
    },
    take(hits) {
      const q = queue.find((x) => x.remaining > 0 && hits(x.fault));
      if (!q) return undefined;
      q.remaining--;
      queue = queue.filter((x) => x.remaining > 0);
      return q.fault;
    },
    get pending() {
      return queue;
    },
    clear() {
      queue = [];
    },
  };
}

/** A hold: the answer to a matching request waits `ms` after the request was carried out. */
export interface Hold {
  ms: number;
}

export interface HeldAnswers<H extends Hold> {
  /** Holds the answers of the next `count` requests `hold` matches. */
  add(hold: H, count: number): void;
  /** Answers held right now. */
  readonly holding: number;
  /** Waits as long as the first hold `hits` accepts says (using it up by one); at once when none does. */
  held(hits: (hold: H) => boolean): Promise<void>;
  /** Drops queued holds and lets every held answer go. */
  clear(): void;
}

export function createHeldAnswers<H extends Hold>(): HeldAnswers<H> {
  const holds = createFaultQueue<H>();
  const waiting = new Set<() => void>();
  return {
    add: holds.add,
    get holding() {
      return waiting.size;
    },
    async held(hits) {
      const h = holds.take(hits);
      if (!h) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiting.delete(done);
          resolve();
        };
        const timer = setTimeout(done, h.ms);
        waiting.add(done);
      });
    },
    clear() {
      holds.clear();
      for (const done of [...waiting]) done();
    },
  };
}
