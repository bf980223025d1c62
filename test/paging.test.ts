import assert from "node:assert/strict";
import { test } from "node:test";
import { paginate } from "../service/api/index.ts";

const item = (id: string, name: string, created_at: string, updated_at = created_at) => ({ id, name, created_at, updated_at });
const items = [
  item("b", "same", "2026-01-01T00:00:00.000Z"),
  item("a", "same", "2026-01-01T00:00:00.000Z"),
  item("c", "other", "2026-01-02T00:00:00.000Z", "2025-12-31T00:00:00.000Z"),
];

test("paging - ties break on id, so pages never overlap or skip", () => {
  const pages = [1, 2, 3].flatMap((page) => paginate(items, { page, page_size: 1 }).items.map((i) => i.id));
  assert.deepEqual(pages, ["a", "b", "c"]);
});

test("paging - every order_by sorts its field both ways", () => {
  const ids = (order_by: Parameters<typeof paginate>[1]["order_by"]) => paginate(items, { order_by }).items.map((i) => i.id);
  assert.deepEqual(ids("created_at_desc"), ["c", "b", "a"]);
  assert.deepEqual(ids("updated_at_asc"), ["c", "a", "b"]);
  assert.deepEqual(ids("name_asc"), ["c", "a", "b"]);
  assert.deepEqual(ids("name_desc"), ["b", "a", "c"]);
});

test("paging - total_count counts every match, not the page", () => {
  const r = paginate(items, { name: "sam", page: 2, page_size: 1 });
  assert.equal(r.total_count, 2);
  assert.deepEqual(r.items.map((i) => i.id), ["b"]);
  assert.deepEqual(paginate(items, { page: 9 }).items, []);
});
