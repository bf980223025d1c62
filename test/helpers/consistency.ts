import { loadTrust } from "../../service/bootstrap/index.ts";
import type { ResolverClient } from "../../service/resolver/index.ts";
import type { Store } from "../../service/store/index.ts";

/**
 * Throws, naming every difference, unless KV, the projects' reservations and every resolver agree:
 * each account record is `active`, each project reserves exactly its tenant accounts, and each
 * resolver holds exactly the recorded accounts plus MNQ and SYS. Reads KV and the servers directly.
 */
export async function assertConsistent(mnq: { store: Store; resolver: ResolverClient }, dataDir: string): Promise<{ accounts: number; resolvers: number }> {
  const trust = loadTrust(dataDir);
  const problems: string[] = [];
  const records = (await mnq.store.accounts.list(">")).map((r) => r.value);
  for (const r of records) if (r.state !== "active") problems.push(`${r.project_id}.${r.id} is ${r.state}`);
  const projects = await mnq.store.projects.list(">");
  const projectIds = new Set([...projects.map((p) => p.value.project_id), ...records.map((r) => r.project_id)]);
  for (const project of projectIds) {
    const reserved = [...(projects.find((p) => p.value.project_id === project)?.value.accounts ?? [])].sort();
    const tenants = records.filter((r) => r.project_id === project && !r.kind).map((r) => r.id).sort();
    if (reserved.join() !== tenants.join()) problems.push(`project ${project} reserves [${reserved.join()}] but records [${tenants.join()}]`);
  }
  const expected = new Set([trust.mnqAccount, trust.sysAccount, ...records.map((r) => r.id)]);
  const resolvers = await mnq.resolver.listClaims();
  if (resolvers.length === 0) problems.push("no resolver answered CLAIMS.LIST");
  resolvers.forEach((held, i) => {
    for (const id of held) if (!expected.has(id)) problems.push(`resolver ${i} holds ${id}, which has no record`);
    for (const id of expected) if (!held.has(id)) problems.push(`resolver ${i} lacks ${id}`);
  });
  if (problems.length > 0) throw new Error(problems.join("; "));
  return { accounts: records.length, resolvers: resolvers.length };
}
