/** Building JSON-like objects the way `JSON.parse` builds them. */

/**
 * Adds a member the way `JSON.parse` does: `__proto__` becomes an ordinary member, not the
 * prototype. (Objects built by assignment stay fast; `Object.fromEntries` ones are slow to copy.)
 */
export const setMember = (target: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  } else {
    target[key] = value
  }
}
