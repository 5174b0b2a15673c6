import { describe, expect, it } from 'vitest';
import { parsePostgresUrl } from '../../src/db/postgres-pool.js';

describe('parsePostgresUrl', () => {
  it('takes the schema out of the URL and into the session: search path, and UTC always', () => {
    const target = parsePostgresUrl('postgres://news:secret@db.internal:5432/news?schema=letters&sslmode=require');
    expect(target.schema).toBe('letters');
    expect(target.options).toBe('-c TimeZone=UTC -c search_path=letters');
    const url = new URL(target.connectionString);
    expect(url.searchParams.get('schema')).toBeNull();
    expect(url.searchParams.get('sslmode')).toBe('require');
    expect(url.password).toBe('secret');
  });

  it("keeps the URL's own libpq options first", () => {
    const target = parsePostgresUrl('postgres://localhost/news?options=-c%20statement_timeout%3D5000');
    expect(target.schema).toBeUndefined();
    expect(target.options).toBe('-c statement_timeout=5000 -c TimeZone=UTC');
  });

  it('refuses a schema name that would need quoting, and a URL that is not one', () => {
    expect(() => parsePostgresUrl('postgres://localhost/news?schema=Letters;drop')).toThrow(
      'DATABASE_URL: schema "Letters;drop" must be lower-case letters, digits and _ (63 at most)',
    );
    expect(() => parsePostgresUrl('postgres://[news')).toThrow(/DATABASE_URL: not a valid URL/);
  });
});
