import type { NatsConnection } from "@nats-io/nats-core";
import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import { OWNER_SCOPE, type KeyScope } from "../api-keys/index.ts";
import { InvalidArgumentsError, QuotasExceededError } from "../contract/errors.ts";
import type { InFlight } from "../runtime/in-flight.ts";
import { isReplyInbox } from "../identity/index.ts";
import { validateRequest } from "../contract/validation.ts";
import type { ApiContext } from "./context.ts";
import { type Actor, actorOf } from "./events.ts";
import { checkRole, denied } from "./scope.ts";
import { ADMIN_OPERATIONS, ADMIN_PREFIX, type AdminOperation, API_PREFIX, PROJECT_OPERATIONS, type ProjectOperation, projectOfApiSubject } from "../contract/subjects.ts";
import * as apiKeys from "./api-keys.ts";
import * as accounts from "./nats-accounts.ts";
import * as credentials from "./nats-credentials.ts";
import { replyError, replyJson } from "./reply.ts";
import { serviceStatus } from "./status.ts";

/** The micro service's name: `nats micro info mnq`, `$SRV.PING.mnq`. */
export const SERVICE_NAME = "mnq";

/** The admin endpoints' share of the per-project bound. */
const ADMIN_LOAD = "*admin";

/** Largest request body the API reads (docs/api.md). */
export const MAX_REQUEST_BYTES = 64 * 1024;
const PROJECT_ID = /^[a-z0-9-]{1,64}$/;

/** A handler takes its own request type; the schema named after its subject has checked it. */
type Handler = (ctx: ApiContext, project: string, req: never) => Promise<unknown>;

interface EndpointDef {
  /** Subject after the group's prefix, e.g. `nats-accounts.create`. */
  subject: string;
  handler: Handler;
}

/** The handler of each project endpoint of the contract (a missing one does not compile). */
const projectHandlers: Record<ProjectOperation, Handler> = {
  "nats-accounts.create": accounts.createAccount,
  "nats-accounts.list": accounts.listAccounts,
  "nats-accounts.get": accounts.getAccount,
  "nats-accounts.update": accounts.updateAccount,
  "nats-accounts.delete": accounts.deleteAccount,
  "nats-accounts.usage": accounts.accountUsage,
  "nats-accounts.rotate-signing-key": accounts.rotateSigningKey,
  "nats-accounts.import": accounts.importAccount,
  "nats-credentials.create": credentials.createCredentials,
  "nats-credentials.list": credentials.listCredentials,
  "nats-credentials.get": credentials.getCredentials,
  "nats-credentials.delete": credentials.deleteCredentials,
};

/** The handler of each operator endpoint (admin.creds and admin API keys only). */
const adminHandlers: Record<AdminOperation, Handler> = {
  "api-keys.create": apiKeys.createApiKey,
  "api-keys.list": apiKeys.listApiKeys,
  "api-keys.delete": apiKeys.deleteApiKey,
  status: serviceStatus,
};

/** Every project-scoped endpoint of docs/api.md. */
export const projectEndpoints: readonly EndpointDef[] = PROJECT_OPERATIONS.map((subject) => ({ subject, handler: projectHandlers[subject] }));

/** The operator's endpoints under `mnq.admin.v1.`. */
export const adminEndpoints: readonly EndpointDef[] = ADMIN_OPERATIONS.map((subject) => ({ subject, handler: adminHandlers[subject] }));

/** Parses a request body: empty means `{}`; more than 64 KiB or not JSON is invalid_arguments. */
export function parseBody(data: Uint8Array): unknown {
  if (data.length > MAX_REQUEST_BYTES) {
    throw InvalidArgumentsError.one("body", "constraint", `request payload larger than ${MAX_REQUEST_BYTES} bytes`);
  }
  if (data.length === 0) return {};
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch {
    throw InvalidArgumentsError.one("body", "format", "request body is not UTF-8 JSON");
  }
}

/**
 * Registers the `mnq` micro service (so `$SRV.PING|INFO|STATS` answer) with one endpoint per
 * API operation in the default queue group. Handlers run concurrently, counted in `inFlight`;
 * every outcome is a reply.
 */
export async function startApiService(nc: NatsConnection, ctx: ApiContext, version: string, inFlight: InFlight): Promise<Service> {
  const svc = await new Svcm(nc).add({
    name: SERVICE_NAME,
    version,
    ...(ctx.observe ? { statsHandler: ctx.observe.stats.handler } : {}),
    description: "NATS accounts and credentials (mnq.api.v1.<project>.>)",
    metadata: { region: ctx.cfg.region, endpoint: ctx.cfg.endpoint },
  });
  const groups = [
    { prefix: `${API_PREFIX}.*`, endpoints: projectEndpoints, scoped: true },
    { prefix: ADMIN_PREFIX, endpoints: adminEndpoints, scoped: false },
  ];
  const load = new Map<string, number>();
  for (const { prefix, endpoints, scoped } of groups) {
    const group = svc.addGroup(prefix);
    for (const def of endpoints) {
      const schema = `urn:mnq:api:${def.subject}`;
      const name = def.subject.replace(".", "-");
      group.addEndpoint(name, {
        subject: def.subject,
        metadata: { request_schema: `${schema}.request`, response_schema: `${schema}.reply` },
        handler: (err, msg) => {
          if (err) return;
          // An answer goes only to an inbox (see RESPONDER_PUBLISH): not done, and not written anywhere.
          if (!isReplyInbox(msg.reply)) {
            ctx.observe?.metrics.dropped(def.subject);
            return;
          }
          const started = performance.now();
          const answered = (error?: { code: number; description: string }) => {
            ctx.observe?.metrics.api(def.subject, error?.code ?? 200, (performance.now() - started) / 1000);
            ctx.observe?.stats.record(name, started, error);
          };
          // Bounded per project: a project's flood is answered 429 at once instead of queueing
          // everyone's requests (and the callout) behind it.
          const project = scoped ? projectOfApiSubject(msg.subject) : ADMIN_LOAD;
          const busy = load.get(project) ?? 0;
          if (busy >= ctx.cfg.apiInFlightPerProject) {
            const max = ctx.cfg.apiInFlightPerProject;
            answered(replyError(msg, new QuotasExceededError([{ resource: "api_requests_in_flight", quota: max, current: busy }], "too many requests of this project in flight; retry"), ctx.log));
            return;
          }
          load.set(project, busy + 1);
          inFlight.run(() =>
            handle(ctx, def, schema, msg, scoped).then(answered, () => answered({ code: 500, description: "internal error" })).finally(() => {
              const left = (load.get(project) ?? 1) - 1;
              if (left > 0) load.set(project, left);
              else load.delete(project);
            }),
          );
        },
      });
    }
  }
  return svc;
}

/**
 * How far the caller of a project endpoint reaches, from the identity the server wrote into the
 * request (never from the body): an admin everywhere, a project key as its record says. A call
 * outside its role is refused here, before anything is read or changed.
 */
async function callerScope(ctx: ApiContext, actor: Actor | undefined, project: string, operation: ProjectOperation): Promise<KeyScope> {
  const scope = actor === "admin" ? OWNER_SCOPE : actor !== undefined ? await ctx.apiKeys.scope(actor, project) : null;
  // a caller the service cannot name (a key deleted a moment ago): nothing
  if (!scope) throw denied(operation);
  checkRole(scope, operation);
  return scope;
}

/** Answers one request: the error it answered with, if it did. */
async function handle(ctx: ApiContext, def: EndpointDef, schema: string, msg: ServiceMsg, scoped: boolean): Promise<{ code: number; description: string } | undefined> {
  const project = scoped ? projectOfApiSubject(msg.subject) : "";
  const log = ctx.log.child({ subject: msg.subject });
  try {
    if (scoped && !PROJECT_ID.test(project)) {
      throw InvalidArgumentsError.one("project_id", "format", "the project id in the subject must be 1-64 of [a-z0-9-]");
    }
    const actor = actorOf(msg.headers, ctx.accounts.mnqAccount);
    const scope = scoped ? await callerScope(ctx, actor, project, def.subject as ProjectOperation) : OWNER_SCOPE;
    const req = validateRequest<never>(`${schema}.request`, parseBody(msg.data));
    replyJson(msg, await def.handler({ ...ctx, log, actor, scope }, project, req));
    return undefined;
  } catch (err) {
    return replyError(msg, err, log);
  }
}
