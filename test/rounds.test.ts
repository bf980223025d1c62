import assert from "node:assert/strict";
import { test } from "node:test";
import { Rounds } from "../service/runtime/rounds.ts";
import { BackgroundWork } from "../service/runtime/background.ts";
import { listDue } from "../service/accounts/index.ts";

/** Start and end times of `n` rounds of a `Rounds` whose round takes `roundMs`. */
async function times(intervalMs: number, roundMs: number, restFactor: number, n: number): Promise<{ start: number; end: number }[]> {
  const seen: { start: number; end: number }[] = [];
  let done!: () => void;
  const over = new Promise<void>((r) => (done = r));
  const rounds = new Rounds(
    intervalMs,
    async () => {
      const start = performance.now();
      await new Promise((r) => setTimeout(r, roundMs));
      seen.push({ start, end: performance.now() });
      if (seen.length === n) done();
    },
    () => undefined,
    restFactor,
  );
  // the rounds' timer does not hold the process open: this does, while the test waits
  const alive = setInterval(() => undefined, 1000);
  rounds.start();
  await over;
  await rounds.stop();
  clearInterval(alive);
  return seen;
}

test("rounds - a round rests at least restFactor times its own length before the next, and the interval when that is longer", async () => {
  const long = await times(10, 60, 4, 3);
  for (let i = 1; i < long.length; i++) {
    const took = long[i - 1]!.end - long[i - 1]!.start;
    const rest = long[i]!.start - long[i - 1]!.end;
    assert.ok(rest >= took * 4 - 2, `rested ${rest.toFixed(1)} ms after a round of ${took.toFixed(1)} ms`);
  }
  const short = await times(150, 5, 4, 2);
  const rest = short[1]!.start - short[0]!.end;
  assert.ok(rest >= 148, `a short round waits the interval: ${rest.toFixed(1)} ms`);
});

test("rounds - the reconcile lists the resolvers' accounts at start-up and every round while a list is quick; a slow list, once 20 times its length has passed", () => {
  assert.equal(listDue(undefined, 0, false), true, "never listed");
  assert.equal(listDue({ at: 0, tookMs: 5 }, 10, false), true, "quick");
  // 120,000 accounts: 19 s a list
  assert.equal(listDue({ at: 0, tookMs: 19_000 }, 300_000, false), false);
  assert.equal(listDue({ at: 0, tookMs: 19_000 }, 300_000, true), true, "a start always lists");
  assert.equal(listDue({ at: 0, tookMs: 19_000 }, 380_000, false), true);
});

test("background work - a round counts as running until it settles, failed or not, and as begun for good", async () => {
  const work = new BackgroundWork();
  const of = (kind: string) => [...work.figures()].find((f) => f.work === kind)!;
  assert.deepEqual(of("reconcile"), { work: "reconcile", running: 0, begun: 0 }, "every kind is there before it first runs");
  let finish!: () => void;
  const running = work.run("reconcile", () => new Promise<void>((r) => (finish = r)));
  const failing = work.run("reconcile", () => Promise.reject(new Error("round failed")));
  await assert.rejects(failing, /round failed/);
  assert.deepEqual(of("reconcile"), { work: "reconcile", running: 1, begun: 2 });
  finish();
  await running;
  assert.deepEqual(of("reconcile"), { work: "reconcile", running: 0, begun: 2 });
  assert.deepEqual(of("quota_check"), { work: "quota_check", running: 0, begun: 0 });
});
