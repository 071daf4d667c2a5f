/**
 * The key prefix of every Redis-backed package when none is given: the cluster's name. Two
 * applications sharing one Redis give each its own (e.g. `"chat:"`) so their keys never meet.
 *
 * @example
 * const root = `${options.prefix ?? DEFAULT_KEY_PREFIX}presence:`; // "loly:presence:"
 */
export const DEFAULT_KEY_PREFIX = "loly:";
