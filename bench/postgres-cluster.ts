// The PostgreSQL cluster a scale-out run uses: its version and durability settings (a cluster
// with fsync=off commits for free), and its CPU time, read from /proc: the postmaster and the
// processes under it (one backend per connection, the WAL writer, the checkpointer…).
// Per-CPU-second figures of a server on PostgreSQL otherwise count only the server's side.
import fs from 'node:fs';
import pg from 'pg';

/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

/** CPU µs, by whom. */
export interface ClusterCpu {
  /** The backends (and autovacuum workers) serving `database`: its own share, nobody else's. */
  backends: number;
  /**
   * The postmaster and the background processes (WAL writer, checkpointer…): they work for
   * every database on the cluster, so another database's writes land here too.
   */
  background: number;
  /** Every process of the cluster, including backends that have ended (reaped by the postmaster). */
  cluster: number;
}

export interface Cluster {
  /** Version and durability settings, for a report. */
  settings: string;
  /** CPU used so far; undefined where the cluster's processes cannot be seen from here. */
  cpu(database: string): ClusterCpu | undefined;
  /** How `cpu` is read, for a report. */
  cpuSource: string;
}

interface ProcStat {
  ppid: number;
  /** utime + stime, and cutime + cstime (children already reaped), in ticks. */
  own: number;
  reaped: number;
}

function procStat(pid: string | number): ProcStat | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone between the listing and the read, or not ours to see
  }
  // Fields after the parenthesised name: ppid is the 2nd, utime..cstime the 12th to 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return { ppid: fields[1] as number, own: (fields[11] as number) + (fields[12] as number), reaped: (fields[13] as number) + (fields[14] as number) };
}

function procText(pid: string | number, file: 'comm' | 'cmdline'): string {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/**
 * The database a process works for, from its title: "postgres: <user> <database> <client
 * address(port) or [local]> <state>" for a backend, "postgres: autovacuum worker <database>";
 * undefined for the background processes ("postgres: checkpointer", "postgres: walwriter"…).
 */
function processDatabase(title: string): string | undefined {
  const words = title.replace(/^postgres:\s*/, '').split(/\s+/);
  if (words[0] === 'autovacuum' && words[1] === 'worker') return words[2];
  return words[2] && /\(\d+\)$|^\[local\]$/.test(words[2]) ? words[1] : undefined;
}

/**
 * Finds the cluster behind `url` through the pid of the backend serving one connection (its
 * parent is the postmaster).
 */
export async function postgresCluster(url: string): Promise<Cluster> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let postmaster: number | undefined;
  let settings: string;
  try {
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
    // Read while connected: the backend ends with its connection.
    postmaster = procStat(backend)?.ppid;
    const setting = async (name: string) => (await client.query<Record<string, string>>(`SHOW ${name}`)).rows[0]?.[name];
    settings = `PostgreSQL ${await setting('server_version')}, fsync=${await setting('fsync')}, synchronous_commit=${await setting('synchronous_commit')}`;
  } finally {
    await client.end();
  }
  if (!postmaster || !procText(postmaster, 'comm').startsWith('postgres')) {
    return { settings, cpu: () => undefined, cpuSource: 'not visible from here (the PostgreSQL server is in another process namespace or machine)' };
  }
  return {
    settings,
    cpuSource: `from /proc (postmaster pid ${postmaster}): the backends of the run's database, and apart the cluster's background processes (WAL writer, checkpointer…), which serve every database on it; other databases' backends left out`,
    cpu(database) {
      const ticks = { backends: 0, background: 0, cluster: 0 };
      for (const entry of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = procStat(entry);
        if (!stat) continue;
        if (Number(entry) === postmaster) {
          ticks.cluster += stat.own + stat.reaped;
          ticks.background += stat.own;
        } else if (stat.ppid === postmaster) {
          ticks.cluster += stat.own;
          const belongsTo = processDatabase(procText(entry, 'cmdline'));
          if (belongsTo === undefined) ticks.background += stat.own;
          else if (belongsTo === database) ticks.backends += stat.own;
        }
      }
      const micros = (t: number) => (t * 1_000_000) / TICKS_PER_SECOND;
      return { backends: micros(ticks.backends), background: micros(ticks.background), cluster: micros(ticks.cluster) };
    },
  };
}
