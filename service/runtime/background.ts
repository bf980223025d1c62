/**
 * The work an instance does of its own accord: the fleet's count, reconcile rounds (and the
 * resolvers' lists within them, which a server takes seconds of a core to answer at a large fleet)
 * and quota checks. What runs now and how many have begun, by kind: a login or a page slower than
 * usual can then be told from one that met such a round (`mnq_background_running`).
 */
export const BACKGROUND_WORK = ["fleet_count", "reconcile", "resolver_list", "quota_check"] as const;
export type BackgroundKind = (typeof BACKGROUND_WORK)[number];

export interface BackgroundFigure {
  work: BackgroundKind;
  /** Running now. */
  running: number;
  /** Begun since the start. */
  begun: number;
}

export class BackgroundWork {
  readonly #running = new Map<BackgroundKind, number>();
  readonly #begun = new Map<BackgroundKind, number>();

  /** Runs `work`, counted as running `kind` until it settles. */
  async run<T>(kind: BackgroundKind, work: () => Promise<T>): Promise<T> {
    this.#begun.set(kind, (this.#begun.get(kind) ?? 0) + 1);
    this.#running.set(kind, (this.#running.get(kind) ?? 0) + 1);
    try {
      return await work();
    } finally {
      this.#running.set(kind, (this.#running.get(kind) ?? 1) - 1);
    }
  }

  /** Every kind, those never begun at 0. */
  *figures(): Iterable<BackgroundFigure> {
    for (const work of BACKGROUND_WORK) yield { work, running: this.#running.get(work) ?? 0, begun: this.#begun.get(work) ?? 0 };
  }
}

/** `work` counted in `background` when there is one (a module used without an instance around it runs it as is). */
export function tracked<T>(background: BackgroundWork | undefined, kind: BackgroundKind, work: () => Promise<T>): Promise<T> {
  return background ? background.run(kind, work) : work();
}
