// Lookups by key made in one turn of the event loop, answered by one statement.
//
// Concurrent requests each look a row up (the refresh grant reads its user on every request);
// one statement for all of them costs little more than one for each. Nothing is kept: every
// lookup reads the database after it was asked for, so a change is seen by the next request.

/** Bounds one statement's bindings well inside every driver's limit. */
const MAX_BATCH = 200;

export function batchedLookup<V>(load: (keys: string[]) => Promise<Map<string, V>>): (key: string) => Promise<V | undefined> {
  let waiting = new Map<string, Array<{ resolve(value: V | undefined): void; reject(error: unknown): void }>>();
  let scheduled = false;

  async function run(keys: string[], callers: typeof waiting): Promise<void> {
    try {
      const found = await load(keys);
      for (const key of keys) for (const caller of callers.get(key) ?? []) caller.resolve(found.get(key));
    } catch (error) {
      for (const key of keys) for (const caller of callers.get(key) ?? []) caller.reject(error);
    }
  }

  function flush(): void {
    scheduled = false;
    const callers = waiting;
    waiting = new Map();
    const keys = [...callers.keys()];
    for (let at = 0; at < keys.length; at += MAX_BATCH) void run(keys.slice(at, at + MAX_BATCH), callers);
  }

  return (key) =>
    new Promise((resolve, reject) => {
      const callers = waiting.get(key);
      if (callers) callers.push({ resolve, reject });
      else waiting.set(key, [{ resolve, reject }]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
