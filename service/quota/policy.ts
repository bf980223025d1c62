import type { QuotaConfig } from "../config/index.ts";
import type { AccountLimits } from "../identity/index.ts";

/**
 * The limits every tenant account JWT carries. Storage is a flat (untiered) limit, so the server
 * counts every replica against it: an R3 stream can hold about a third of the quota.
 */
export function accountLimits(quota: QuotaConfig): AccountLimits {
  return {
    disk_storage: quota.storageBytes,
    mem_storage: quota.memoryBytes,
    streams: quota.streams,
    consumer: quota.consumers,
    payload: quota.maxPayload,
    conn: quota.connections,
    subs: quota.subscriptions,
    ...(quota.maxBytesRequired ? { max_bytes_required: true } : {}),
  };
}
