export { accountLimits } from "./policy.ts";
