import assert from "node:assert/strict";
import { test } from "node:test";
import { recount } from "../service/store/index.ts";

const MIN = 60_000;

test("fleet counts - a count that takes under 100 ms is made whenever asked; under a second, when the last is over 5 s old", () => {
  assert.equal(recount({ at: 0, tookMs: 40 }, 10), "await");
  assert.equal(recount({ at: 0, tookMs: 400 }, 4_000), "none");
  assert.equal(recount({ at: 0, tookMs: 400 }, 6_000), "await");
});

test("fleet counts - a long count is made again in the background after 5 minutes, or 20 times its length when longer: counting runs at most a twentieth of the time", () => {
  assert.equal(recount({ at: 0, tookMs: 2_000 }, 4 * MIN), "none");
  assert.equal(recount({ at: 0, tookMs: 2_000 }, 6 * MIN), "background");
  // a million credentials: about 90 s a count
  assert.equal(recount({ at: 0, tookMs: 90_000 }, 6 * MIN), "none");
  assert.equal(recount({ at: 0, tookMs: 90_000 }, 29 * MIN), "none");
  assert.equal(recount({ at: 0, tookMs: 90_000 }, 31 * MIN), "background");
});
