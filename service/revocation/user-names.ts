/**
 * The user JWT names the auth callout gives the connections it admits: the servers report them as
 * CONNZ `authorized_user`, which is how a delete finds an owner's connections.
 */
export function credentialUserName(credentialsId: string): string {
  return `nats-credentials-${credentialsId}`;
}

export function apiKeyUserName(accessKey: string): string {
  return `api-key-${accessKey}`;
}

/** The access key in a name `apiKeyUserName` made, or null. */
export function apiKeyOfUserName(name: string): string | null {
  const prefix = apiKeyUserName("");
  return name.startsWith(prefix) && name.length > prefix.length ? name.slice(prefix.length) : null;
}
