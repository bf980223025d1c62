import assert from "node:assert/strict";
import { test } from "node:test";
import { errors } from "@nats-io/nats-core";
import { jserrors } from "@nats-io/jetstream/internal";
import { noJetStream } from "../service/accounts/index.ts";

test("teardown - an account's JetStream that does not answer is told apart from a failure, by the error's causes too", () => {
  // what nats.js throws for `$JS.API.STREAM.NAMES` when nothing answers in the account (seen at
  // 120,000 accounts, right after the teardown's connect made the server load the account)
  const unanswered = new jserrors.JetStreamNotEnabled("jetstream is not enabled", {
    cause: new errors.RequestError("no responders: '$JS.API.STREAM.NAMES'"),
  });
  assert.equal(noJetStream(unanswered), true);
  assert.equal(noJetStream(new Error("503 jetstream not enabled for account")), true);
  assert.equal(noJetStream(new errors.PermissionViolationError("Permissions Violation for Publish", "publish", "$JS.API.STREAM.NAMES")), false);
  assert.equal(noJetStream(new errors.TimeoutError()), false);
  assert.equal(noJetStream(new jserrors.JetStreamApiError({ code: 500, err_code: 10_001, description: "stream delete failed" })), false);
});
