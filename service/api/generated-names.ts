import { randomInt } from "node:crypto";

const ADJECTIVES = ["amber", "bold", "brave", "calm", "clever", "cosmic", "crisp", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nimble", "proud", "quick", "quiet", "rapid", "sharp", "shiny", "silent", "sunny", "swift", "tidy", "vivid", "witty", "young", "zesty"];
const NOUNS = ["badger", "beaver", "comet", "falcon", "fox", "galaxy", "heron", "lynx", "meteor", "nebula", "otter", "owl", "panda", "pulsar", "quasar", "raven", "river", "robin", "salmon", "star", "stream", "swan", "tiger", "walrus", "whale", "wolf", "yak", "zebra"];

/** A generated name, `mnq-<word>-<word>`, for resources created without one. */
export function generateName(): string {
  return `mnq-${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}`;
}
