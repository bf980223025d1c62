import type { NatsConnection } from "@nats-io/nats-core";
import { deleteAccountsJwt, type NKeyPair } from "../identity/index.ts";
import { InternalError, UnavailableError } from "../errors.ts";

interface ResolverReply {
  data?: { code?: number; message?: string; account?: string };
  error?: { code?: number; description?: string };
}

/**
 * Talks to the servers' full resolvers as the system user: pushes and deletes account JWTs.
 * A reply is awaited so the caller knows the account is live (or gone) before it answers.
 */
export class ResolverClient {
  constructor(
    private readonly sys: NatsConnection,
    private readonly operatorSigner: NKeyPair,
    private readonly timeoutMs: number,
  ) {}

  /** `$SYS.REQ.CLAIMS.UPDATE`: resolves when a resolver answered 200. */
  async push(accountJwt: string): Promise<void> {
    await this.request("$SYS.REQ.CLAIMS.UPDATE", accountJwt, "push the account JWT");
  }

  /** `$SYS.REQ.CLAIMS.DELETE` (needs `allow_delete: true`). */
  async delete(accounts: string[]): Promise<void> {
    const token = deleteAccountsJwt(accounts, this.operatorSigner);
    await this.request("$SYS.REQ.CLAIMS.DELETE", token, "delete the account JWT");
  }

  /** The account JWT a resolver serves, or null. */
  async lookup(account: string): Promise<string | null> {
    try {
      const m = await this.sys.request(`$SYS.REQ.ACCOUNT.${account}.CLAIMS.LOOKUP`, "", { timeout: this.timeoutMs });
      const text = m.string();
      return text.startsWith("eyJ") ? text : null;
    } catch {
      return null;
    }
  }

  private async request(subject: string, body: string, what: string): Promise<void> {
    let text: string;
    try {
      text = (await this.sys.request(subject, body, { timeout: this.timeoutMs })).string();
    } catch (err) {
      throw new UnavailableError(`the resolver did not answer (${what}); retry`, { cause: err });
    }
    let reply: ResolverReply;
    try {
      reply = JSON.parse(text) as ResolverReply;
    } catch {
      throw new InternalError(`the resolver sent an unreadable reply (${what})`);
    }
    if (reply.data?.code === 200) return;
    const detail = reply.error?.description ?? reply.data?.message ?? "no detail";
    throw new InternalError(`the resolver refused to ${what}: ${detail}`);
  }
}
