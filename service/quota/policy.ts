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
    streams: streamsLimit(quota),
    consumer: quota.consumers,
    payload: quota.maxPayload,
    conn: quota.connections,
    subs: quota.subscriptions,
    ...(quota.maxBytesRequired ? { max_bytes_required: true } : {}),
  };
}

/**
 * Streams per account. In exact mode each stream is charged at least `streamMinBytes` of the
 * storage quota: the server reserves only a stream's max_bytes, so without it a thousand streams of
 * 100 bytes would reserve 100 kB and cost the servers 70 MiB. The server has no per-stream minimum,
 * so the charge is the stream bound: at most quota / minimum streams.
 */
export function streamsLimit(quota: QuotaConfig): number {
  if (!quota.maxBytesRequired || quota.storageBytes < 0) return quota.streams;
  const charged = Math.max(1, Math.floor(quota.storageBytes / quota.streamMinBytes));
  return quota.streams < 0 ? charged : Math.min(quota.streams, charged);
}
