const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Validates and double-quotes an identifier; anything outside [a-z0-9_] is refused, not escaped. */
export function ident(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`invalid SQL identifier "${name}"`);
  return `"${name}"`;
}

export function qualified(table: string, schema = 'public'): string {
  return `${ident(schema)}.${ident(table)}`;
}
