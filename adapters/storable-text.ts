// What text can reach a statement. PostgreSQL refuses a NUL character in `text` ("invalid byte
// sequence for encoding UTF8: 0x00") where SQLite stores it, and neither driver can store a lone
// surrogate faithfully (both encode it as U+FFFD, so "a\ud800" would match a stored "a\ufffd").
// No stored id, email or URI contains either, so a value that does cannot equal anything stored:
// lookups treat it as absent (the caller answers its usual not-found), and validators refuse it
// before a write. Bytes that are not UTF-8 never get this far: every parser we use (query strings,
// forms, JSON, Basic credentials) turns them into U+FFFD or refuses them.

/** True when `value` is a string that both databases store and compare as it is. */
export function isStorableText(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\u0000') && value.isWellFormed();
}

/** The values of `values` that can be looked up (the others cannot be stored, so match nothing). */
export function storableOnly(values: readonly string[]): string[] {
  return values.filter(isStorableText);
}
