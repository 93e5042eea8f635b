// The server the fuzzer runs against: the test harness's real server on loopback, with the abuse
// limits raised so that the run explores past the 429s (a 429 is still an acceptable answer),
// the standard fixtures and an initial access token for dynamic registration.
import { throwAwayPostgresDatabase } from '../../helpers/postgres-database.ts';
import { startServer, type Harness } from '../../helpers/harness.ts';
import { createFixtures } from '../../helpers/fixtures.ts';
import { generateKeyMaterial } from '../../../server/config/keys.ts';
import type { FreshDatabase, StoreKind } from '../../helpers/databases.ts';
import type { FuzzFixtures } from './live-state.ts';

export const FUZZ_SERVER_ENV: Record<string, string> = {
  LOGIN_IP_ATTEMPTS: '100000',
  LOGIN_FREE_ATTEMPTS: '100',
  LOGIN_BACKOFF_SECONDS: '1',
  LOGIN_BACKOFF_MAX_SECONDS: '2',
  CLIENT_AUTH_ATTEMPTS: '100000',
  REGISTRATIONS_PER_IP: '100000',
  REGISTRATIONS_PER_TOKEN: '100000',
};

export interface FuzzTarget {
  harness: Harness;
  fixtures: FuzzFixtures;
  close(): Promise<void>;
}

export interface FuzzTargetOptions {
  store?: StoreKind;
  /**
   * PostgreSQL server to create a throw-away database on, outside vitest (the harness takes it
   * from vitest's globalSetup otherwise).
   */
  pgAdminUrl?: string;
}

export async function startFuzzTarget({ store = 'sqlite', pgAdminUrl }: FuzzTargetOptions = {}): Promise<FuzzTarget> {
  let harness: Harness;
  let drop: () => Promise<void> = async () => undefined;
  if (store === 'pg' && pgAdminUrl) {
    const database = await freshPgDatabase(pgAdminUrl);
    drop = database.drop;
    // The harness's "second instance" path takes a ready database and keys instead of creating one.
    const first = { database, keys: generateKeyMaterial() } as unknown as Harness;
    harness = await startServer({ store, env: FUZZ_SERVER_ENV, sameDatabaseAs: first });
  } else {
    harness = await startServer({ store, env: FUZZ_SERVER_ENV });
  }
  const fixtures = await createFixtures(harness);
  const initialAccessToken = await new harness.app.provider.InitialAccessToken({}).save();
  return {
    harness,
    fixtures: { ...fixtures, initialAccessToken },
    async close() {
      await harness.close();
      await drop();
    },
  };
}

function freshPgDatabase(adminUrl: string): Promise<FreshDatabase> {
  return throwAwayPostgresDatabase(adminUrl, 'latchkey_fuzz');
}
