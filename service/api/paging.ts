/** The list options shared by every list endpoint (docs/api.md "Defaults and limits"). */
export interface ListOptions {
  page?: number;
  page_size?: number;
  order_by?: OrderBy;
  name?: string;
}

export const OrderBy = {
  createdAtAsc: "created_at_asc",
  createdAtDesc: "created_at_desc",
  updatedAtAsc: "updated_at_asc",
  updatedAtDesc: "updated_at_desc",
  nameAsc: "name_asc",
  nameDesc: "name_desc",
} as const;
export type OrderBy = (typeof OrderBy)[keyof typeof OrderBy];

export const DEFAULT_PAGE_SIZE = 20;

interface Listable {
  id: string;
  name: string;
  created_at: string;
  updated_at: string;
}

/**
 * The comparison for `order_by` (default `created_at_asc`), ties broken on id so pages never
 * overlap or skip; `order` names it (for cached sorted copies).
 */
export function ordering<T extends Listable>(opts: ListOptions): { order: OrderBy; compare: (a: T, b: T) => number } {
  const order = opts.order_by ?? OrderBy.createdAtAsc;
  const field = order.startsWith("name") ? "name" : order.startsWith("updated") ? "updated_at" : "created_at";
  const dir = order.endsWith("_desc") ? -1 : 1;
  const compare = (a: T, b: T) => {
    const c = a[field] < b[field] ? -1 : a[field] > b[field] ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    return c * dir;
  };
  return { order, compare };
}

/**
 * One page of items already in order: filtered by name (substring) and by `keep`, then cut.
 * `total_count` counts every match. Without a filter it costs the page, not the list.
 */
export function pageOf<T extends { name: string }>(sorted: readonly T[], opts: ListOptions, keep?: (item: T) => boolean): { total_count: number; items: T[] } {
  const size = opts.page_size ?? DEFAULT_PAGE_SIZE;
  const start = ((opts.page ?? 1) - 1) * size;
  if (!opts.name && !keep) return { total_count: sorted.length, items: sorted.slice(start, start + size) };
  const matching = sorted.filter((i) => (!opts.name || i.name.includes(opts.name)) && (!keep || keep(i)));
  return { total_count: matching.length, items: matching.slice(start, start + size) };
}

/** Sorts and pages a small unsorted list (see `ordering`, `pageOf`). */
export function paginate<T extends Listable>(items: T[], opts: ListOptions): { total_count: number; items: T[] } {
  return pageOf([...items].sort(ordering<T>(opts).compare), opts);
}
