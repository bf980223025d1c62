/**
 * Test-only crash points. With `MNQ_TEST_FAULT=<point>` in the environment the process kills itself
 * (SIGKILL: no cleanup, no reply) when it reaches that point, so tests can check that a restart
 * leaves no half state. Unset (always, outside tests), a fault point is one comparison. The switch
 * can instead freeze one view (`frozenView`), to show what an instance does with a stuck copy.
 */
export const FaultPoint = {
  /** Account create: the project's place is reserved, no record yet. */
  createReserved: "create.reserved",
  /** Account create: the `creating` record is written, the JWT not pushed. */
  createRecorded: "create.recorded",
  /** Account create: the JWT is on the resolvers, the record still `creating`. */
  createPushed: "create.pushed",
  /** Account delete: the record is marked `deleting`. */
  deleteMarked: "delete.marked",
  /** Account delete: every user is revoked, the JWT still on the resolvers. */
  deleteRevoked: "delete.revoked",
  /** Account delete: the JWT is gone from the resolvers, the records remain. */
  deleteUnpublished: "delete.unpublished",
} as const;
export type FaultPoint = (typeof FaultPoint)[keyof typeof FaultPoint];

const armed = process.env.MNQ_TEST_FAULT;

/** Kills the process here when the test fault switch names this point. */
export function faultPoint(point: FaultPoint): void {
  if (armed === point) process.kill(process.pid, "SIGKILL");
}

/** The bucket whose view receives and does not apply (`MNQ_TEST_FAULT=freeze-view:<bucket>`): a copy stuck without a sign. */
export function frozenView(): string | undefined {
  return armed?.startsWith(FREEZE_VIEW) ? armed.slice(FREEZE_VIEW.length) : undefined;
}
const FREEZE_VIEW = "freeze-view:";
