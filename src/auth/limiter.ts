/**
 * Fixed-window counters per key (an IP, a user, a principal), on the Effect clock so tests move
 * time with `TestClock`. Memory is bounded: expired windows are dropped as keys are touched, and
 * past `maxKeys` the oldest windows go first.
 */
import type * as Clock from "effect/Clock"

export interface Limiter {
  /** Counts one hit; the seconds to wait when the key is over the limit, else undefined. */
  readonly hit: (key: string) => number | undefined
  /** Whether the key is over the limit, without counting (failed logins are counted separately). */
  readonly blocked: (key: string) => number | undefined
  /** Forgets a key (a successful login clears its failures). */
  readonly reset: (key: string) => void
}

interface Window {
  readonly start: number
  count: number
}

export const makeLimiter = (
  clock: Clock.Clock,
  options: { readonly max: number; readonly windowMs: number; readonly maxKeys?: number },
): Limiter => {
  const windows = new Map<string, Window>()
  const maxKeys = options.maxKeys ?? 50_000
  const now = () => clock.unsafeCurrentTimeMillis()

  const current = (key: string, at: number): Window | undefined => {
    const window = windows.get(key)
    if (window === undefined || at - window.start >= options.windowMs) {
      windows.delete(key)
      return undefined
    }
    return window
  }

  const retryAfter = (window: Window, at: number) =>
    Math.max(1, Math.ceil((window.start + options.windowMs - at) / 1000))

  const prune = (at: number) => {
    for (const [key, window] of windows) {
      if (windows.size < maxKeys) return
      if (at - window.start >= options.windowMs || windows.size >= maxKeys) windows.delete(key)
    }
  }

  return {
    hit: (key) => {
      const at = now()
      const window = current(key, at)
      if (window === undefined) {
        if (windows.size >= maxKeys) prune(at)
        windows.set(key, { start: at, count: 1 })
        return options.max >= 1 ? undefined : retryAfter({ start: at, count: 1 }, at)
      }
      window.count += 1
      return window.count > options.max ? retryAfter(window, at) : undefined
    },
    blocked: (key) => {
      const at = now()
      const window = current(key, at)
      return window !== undefined && window.count >= options.max ? retryAfter(window, at) : undefined
    },
    reset: (key) => void windows.delete(key),
  }
}
