/**
 * A throwaway Redis Cluster of a test's own, on loopback ports: `masters` primaries (each with
 * `replicas` replicas) started from `redis-server --cluster-enabled yes` and joined with
 * `redis-cli --cluster create`, no persistence, each node's configuration, log (`redis.log`)
 * and replication files in a folder of its own under one temporary folder. When `redis-server`
 * lacks cluster support the start fails and says so (a test never skips silently).
 *
 * Failover-ready: a replica that never finished its first sync refuses to fail over (its data
 * age counts from the epoch: "Disconnected from master for longer than allowed"), and a master
 * waits `repl-diskless-sync-delay` (5 s by default) before that first sync. So the nodes sync
 * at once (`repl-diskless-sync-delay 0`), a replica may always take over
 * (`cluster-replica-validity-factor 0`), and the start resolves only once every replica is in
 * sync with its master and every node sees the same primaries. When a wait fails (start,
 * {@link OwnRedisCluster.healthy}, {@link OwnRedisCluster.waitPromoted}) the folder and its logs
 * are kept and the error names it, with the end of each node's log.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { Cluster, Redis } from "ioredis";
import { killWithThisProcess } from "./child.js";
import { freePort } from "./redis-server.js";

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One node of the cluster. */
export interface ClusterNode {
  readonly port: number;
  readonly url: string;
  /** Its cluster node id (`CLUSTER MYID`; kept across a restart). */
  readonly id: string;
  /** Its folder (configuration, `redis.log`). */
  readonly dir: string;
  proc: ChildProcess;
  /** True while the process runs. */
  readonly alive: boolean;
}

/** A primary taking over from a killed one. */
export interface Promotion {
  /** The node that serves the killed primary's slots now. */
  readonly primary: ClusterNode;
  /** Milliseconds from the kill until every live node reported the new primary and `cluster_state:ok`. */
  readonly ms: number;
}

export interface StartClusterOptions {
  /** `cluster-node-timeout`: how long a node may not answer before it is failed over. @default 1000 */
  nodeTimeoutMs?: number;
}

export interface OwnRedisCluster {
  readonly nodes: ClusterNode[];
  /** Seed URLs (every node). */
  readonly seeds: string[];
  /** The folder of every node's files. */
  readonly dir: string;
  /** A client of the cluster (closed by `stop()`). */
  client(): Cluster;
  /** The hash slot of `key`. */
  slotOf(key: string): Promise<number>;
  /** The node that serves `key`'s slot now (its primary). */
  primaryOf(key: string): Promise<ClusterNode>;
  /** The primaries serving slots now. */
  primaries(): Promise<ClusterNode[]>;
  /** The live replicas of a primary. */
  replicaOf(primary: ClusterNode): Promise<ClusterNode[]>;
  /** How many clients are subscribed on a node (`CLIENT LIST` entries with channels or patterns). */
  subscribers(node: ClusterNode): Promise<number>;
  /** SIGKILLs a node (remembering which slots it served, for {@link waitPromoted}). */
  kill(node: ClusterNode): Promise<void>;
  /**
   * Waits until a killed primary's slots are served by another node, every live node agrees and
   * says `cluster_state:ok`; resolves that node and the time since the kill.
   */
  waitPromoted(killed: ClusterNode, timeoutMs?: number): Promise<Promotion>;
  /**
   * Starts a killed node again on its port with its folder: it rejoins with its identity (a
   * killed primary whose replica took over comes back as that replica's replica, and syncs).
   */
  restart(node: ClusterNode): Promise<void>;
  /** Waits until every live node sees the created number of primaries and replicas and every replica is in sync. */
  waitReplicated(timeoutMs?: number): Promise<void>;
  /** Waits until `CLUSTER INFO` says `cluster_state:ok` on every live node. */
  healthy(timeoutMs?: number): Promise<void>;
  /** Keep the folder (logs) when `stop()` runs: call it when a test failed. */
  keepLogs(): void;
  /** The end of each node's log (for error messages). */
  logTail(lines?: number): string;
  /** Stops every node and removes the folder (unless a wait failed or `keepLogs()` was called). */
  stop(): Promise<void>;
}

/** Runs one command on one node (no cluster redirection); rejects when the node does not answer. */
async function ask(port: number, ...args: string[]): Promise<unknown> {
  const probe = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    commandTimeout: 2000,
  });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    return await probe.call(args[0] as string, ...args.slice(1));
  } finally {
    probe.disconnect();
  }
}

async function ping(port: number): Promise<boolean> {
  return ask(port, "PING").then(
    (r) => r === "PONG",
    () => false,
  );
}

async function clusterState(port: number): Promise<string> {
  return ask(port, "CLUSTER", "INFO").then(
    (info) => /cluster_state:(\w+)/.exec(String(info))?.[1] ?? "unknown",
    () => "down",
  );
}

/** One line of `CLUSTER NODES`. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string | null;
  slots: string[];
}

async function clusterNodes(port: number): Promise<NodeLine[]> {
  const text = String(await ask(port, "CLUSTER", "NODES"));
  return text
    .trim()
    .split("\n")
    .map((line) => {
      const [id, addr, flags, master, , , , , ...slots] = line.trim().split(" ");
      return {
        id: id as string,
        port: Number(/:(\d+)@/.exec(addr ?? "")?.[1]),
        flags: (flags ?? "").split(","),
        masterId: master === "-" ? null : (master ?? null),
        slots,
      };
    });
}

/** Starts a cluster of `masters` primaries with `replicas` replicas each; resolves once it is healthy and replicated. */
export async function startRedisCluster(masters = 3, replicas = 0, options: StartClusterOptions = {}): Promise<OwnRedisCluster> {
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const dir = mkdtempSync(join(tmpdir(), "loly-redis-cluster-"));
  const nodes: ClusterNode[] = [];
  const clients: Cluster[] = [];
  /** The first slot each killed primary served, and when it was killed. */
  const killed = new Map<ClusterNode, { slot: number | undefined; at: number }>();
  let keep = false;
  const live = (): ClusterNode[] => nodes.filter((n) => n.alive);
  const logTail = (lines = 15): string =>
    nodes
      .map((n) => {
        const file = join(n.dir, "redis.log");
        const text = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n") : "(no log)";
        return `--- node ${n.port} (${n.alive ? "alive" : "killed"}):\n${text}`;
      })
      .join("\n");
  /** An error of a wait that failed: keeps the logs and shows their ends. */
  const failure = (message: string): Error => {
    keep = true;
    return new Error(`${message}\nnode logs kept in ${dir}\n${logTail()}`);
  };
  const stop = async (): Promise<void> => {
    for (const c of clients.splice(0)) c.disconnect();
    await Promise.all(nodes.map((n) => killNode(n)));
    if (keep) process.stderr.write(`redis-cluster: node logs kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  };
  /** Asks live nodes in turn until one answers. */
  const askAny = async (...args: string[]): Promise<unknown> => {
    let last: unknown;
    for (const n of live()) {
      try {
        return await ask(n.port, ...args);
      } catch (err) {
        last = err;
      }
    }
    throw last ?? new Error("no live node");
  };
  const byPort = (port: number | undefined): ClusterNode | undefined => nodes.find((n) => n.port === port);
  /** The primary serving `slot` as one node sees it. */
  const slotOwner = async (port: number, slot: number): Promise<number | undefined> => {
    const slots = (await ask(port, "CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
    return slots.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
  };
  try {
    const count = masters * (1 + replicas);
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
      const proc = await spawnNode(port, nodeDir, nodeTimeoutMs);
      const id = String(await ask(port, "CLUSTER", "MYID"));
      const node: ClusterNode = {
        port,
        url: `redis://127.0.0.1:${port}`,
        id,
        dir: nodeDir,
        proc,
        get alive() {
          return node.proc.exitCode === null && node.proc.signalCode === null;
        },
      };
      nodes.push(node);
    }
    await run("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      "--cluster-replicas",
      String(replicas),
      "--cluster-yes",
    ]).catch((err: Error & { stderr?: string; stdout?: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${err.stderr || err.stdout || err.message}`);
    });

    const healthy = async (timeoutMs = 20_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(live().map((n) => clusterState(n.port)));
        if (states.every((s) => s === "ok")) return;
        if (Date.now() > deadline) throw failure(`Redis Cluster not healthy after ${timeoutMs} ms: ${states.join(", ")}`);
        await sleep(100);
      }
    };

    /** Every live node sees `masters` primaries with slots and every replica; each replica is in sync. */
    const replicated = async (timeoutMs = 20_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      let last = "";
      for (;;) {
        try {
          const views = await Promise.all(live().map((n) => clusterNodes(n.port)));
          const agreed = views.every((v) => {
            const withSlots = v.filter((l) => l.flags.includes("master") && l.slots.length > 0).length;
            const slaves = v.filter((l) => l.flags.includes("slave") && l.masterId !== null).length;
            return withSlots === masters && slaves === masters * replicas && v.every((l) => !l.flags.includes("handshake"));
          });
          const links = await Promise.all(
            live().map(async (n) => {
              const info = String(await ask(n.port, "INFO", "replication"));
              const role = /role:(\w+)/.exec(info)?.[1];
              return role === "master" || /master_link_status:up/.test(info);
            }),
          );
          last = `views agree: ${agreed}, replicas in sync: ${links.filter(Boolean).length}/${links.length}`;
          if (agreed && links.every(Boolean)) return;
        } catch (err) {
          last = String(err);
        }
        if (Date.now() > deadline) throw failure(`Redis Cluster replicas not in sync after ${timeoutMs} ms (${last})`);
        await sleep(100);
      }
    };

    const cluster: OwnRedisCluster = {
      nodes,
      seeds: nodes.map((n) => n.url),
      dir,
      client() {
        const c = new Cluster(
          nodes.map((n) => ({ host: "127.0.0.1", port: n.port })),
          { redisOptions: { maxRetriesPerRequest: 1 }, slotsRefreshInterval: 1000 },
        );
        c.on("error", () => undefined);
        clients.push(c);
        return c;
      },
      async slotOf(key) {
        return Number(await askAny("CLUSTER", "KEYSLOT", key));
      },
      async primaryOf(key) {
        const slot = await cluster.slotOf(key);
        for (const n of live()) {
          const owner = await slotOwner(n.port, slot).catch(() => undefined);
          const node = byPort(owner);
          if (node) return node;
        }
        throw new Error(`no primary for slot ${slot}`);
      },
      async primaries() {
        const lines = (await clusterNodes(live()[0]?.port ?? 0)).filter(
          (l) => l.flags.includes("master") && l.slots.length > 0 && !l.flags.includes("fail"),
        );
        return lines.map((l) => byPort(l.port)).filter((n): n is ClusterNode => n !== undefined);
      },
      async replicaOf(primary) {
        const lines = await clusterNodes(live()[0]?.port ?? 0);
        return lines
          .filter((l) => l.masterId === primary.id && l.flags.includes("slave"))
          .map((l) => byPort(l.port))
          .filter((n): n is ClusterNode => n?.alive === true);
      },
      async subscribers(node) {
        const list = String(await ask(node.port, "CLIENT", "LIST"));
        return list.split("\n").filter((l) => /\b(sub|psub|ssub)=[1-9]/.test(l)).length;
      },
      async kill(node) {
        let slot: number | undefined;
        const other = live().find((n) => n !== node);
        if (other) {
          const line = (await clusterNodes(other.port).catch(() => [])).find((l) => l.id === node.id);
          const first = line?.slots.find((s) => /^\d/.test(s));
          if (first !== undefined) slot = Number(first.split("-")[0]);
        }
        const at = Date.now();
        await killNode(node);
        killed.set(node, { slot, at });
      },
      async waitPromoted(node, timeoutMs = 30_000) {
        const k = killed.get(node);
        if (!k) throw new Error(`node ${node.port} was not killed through kill()`);
        if (k.slot === undefined) throw new Error(`node ${node.port} served no slots when it was killed`);
        const deadline = Date.now() + timeoutMs;
        let last = "";
        for (;;) {
          const views = await Promise.all(
            live().map(async (n) => ({
              owner: await slotOwner(n.port, k.slot as number).catch(() => undefined),
              state: await clusterState(n.port),
            })),
          );
          const owners = new Set(views.map((v) => v.owner));
          const owner = byPort(views[0]?.owner);
          last = views.map((v) => `${v.owner ?? "?"}/${v.state}`).join(", ");
          if (owners.size === 1 && owner && owner !== node && owner.alive && views.every((v) => v.state === "ok")) {
            return { primary: owner, ms: Date.now() - k.at };
          }
          if (Date.now() > deadline)
            throw failure(
              `the replica of ${node.port} was not promoted within ${timeoutMs} ms (slot ${k.slot} owner/state per live node: ${last})`,
            );
          await sleep(50);
        }
      },
      async restart(node) {
        if (node.alive) throw new Error(`node ${node.port} is still running`);
        node.proc = await spawnNode(node.port, node.dir, nodeTimeoutMs);
        killed.delete(node);
      },
      waitReplicated: (timeoutMs) => replicated(timeoutMs),
      healthy,
      keepLogs() {
        keep = true;
      },
      logTail,
      stop,
    };
    await healthy();
    await replicated();
    return cluster;
  } catch (err) {
    keep = true;
    await stop();
    throw err;
  }
}

/** Starts one cluster node in `nodeDir` (its `nodes.conf` keeps its identity across restarts); resolves once it answers PING. */
async function spawnNode(port: number, nodeDir: string, nodeTimeoutMs: number): Promise<ChildProcess> {
  const proc = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      join(nodeDir, "nodes.conf"),
      "--cluster-node-timeout",
      String(nodeTimeoutMs),
      // A replica may always take over (a test's replicas are in sync; see the header).
      "--cluster-replica-validity-factor",
      "0",
      // The topology stays as created: a replica never migrates to an orphaned master.
      "--cluster-allow-replica-migration",
      "no",
      // Replicas sync at once, not 5 s later.
      "--repl-diskless-sync-delay",
      "0",
      "--dir",
      nodeDir,
      "--logfile",
      join(nodeDir, "redis.log"),
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  killWithThisProcess(proc, dirname(nodeDir));
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  proc.once("error", (err) => (stderr += String(err)));
  for (let t = 0; t < 100; t++) {
    if (proc.exitCode !== null) break;
    if (await ping(port)) return proc;
    await sleep(50);
  }
  proc.kill("SIGKILL");
  const logFile = join(nodeDir, "redis.log");
  const log = existsSync(logFile) ? readFileSync(logFile, "utf8").trim() : "";
  throw new Error(
    `redis-server --cluster-enabled yes did not start on ${port}: ${stderr.trim() || log || "no output"} (does this redis-server support cluster mode?)`,
  );
}

function killNode(node: ClusterNode): Promise<void> {
  const { proc } = node;
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    proc.once("exit", () => done());
    proc.kill("SIGKILL");
  });
}
