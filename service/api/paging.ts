/** The list options shared by every list endpoint (API.md "Defaults and limits"). */
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
 * Filters by name (substring), sorts by `order_by` with ties broken on id (so pages never
 * overlap or skip), and cuts the page. `total_count` counts every match.
 */
export function paginate<T extends Listable>(items: T[], opts: ListOptions): { total_count: number; items: T[] } {
  const matching = opts.name ? items.filter((i) => i.name.includes(opts.name!)) : items;
  const order = opts.order_by ?? OrderBy.createdAtAsc;
  const field = order.startsWith("name") ? "name" : order.startsWith("updated") ? "updated_at" : "created_at";
  const dir = order.endsWith("_desc") ? -1 : 1;
  const sorted = [...matching].sort((a, b) => {
    const c = a[field] < b[field] ? -1 : a[field] > b[field] ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    return c * dir;
  });
  const size = opts.page_size ?? DEFAULT_PAGE_SIZE;
  const start = ((opts.page ?? 1) - 1) * size;
  return { total_count: matching.length, items: sorted.slice(start, start + size) };
}
