/**
 * A throwaway Redis Cluster of a test's own, on loopback ports: `masters` primaries (each with
 * `replicas` replicas) started from `redis-server --cluster-enabled yes` and joined with
 * `redis-cli --cluster create`, no persistence, its node configuration in a temporary folder.
 * When `redis-server` lacks cluster support the start fails and says so (a test never skips
 * silently).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Cluster, Redis } from "ioredis";
import { freePort } from "./redis-server.js";

const run = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One node of the cluster. */
export interface ClusterNode {
  readonly port: number;
  readonly url: string;
  proc: ChildProcess;
}

export interface OwnRedisCluster {
  readonly nodes: ClusterNode[];
  /** Seed URLs (every node). */
  readonly seeds: string[];
  /** A client of the cluster (closed by `stop()`). */
  client(): Cluster;
  /** The node that serves `key`'s slot now (its primary). */
  primaryOf(key: string): Promise<ClusterNode>;
  /** SIGKILLs a node. */
  kill(node: ClusterNode): Promise<void>;
  /** Waits until `CLUSTER INFO` says `cluster_state:ok` on every live node. */
  healthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes the folder. */
  stop(): Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function clusterState(port: number): Promise<string> {
  const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => undefined);
  try {
    await probe.connect();
    const info = String(await probe.call("CLUSTER", "INFO"));
    return /cluster_state:(\w+)/.exec(info)?.[1] ?? "unknown";
  } catch {
    return "down";
  } finally {
    probe.disconnect();
  }
}

/** Starts a cluster of `masters` primaries with `replicas` replicas each; resolves once it is healthy. */
export async function startRedisCluster(masters = 3, replicas = 0): Promise<OwnRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "loly-redis-cluster-"));
  const nodes: ClusterNode[] = [];
  const clients: Cluster[] = [];
  const stop = async (): Promise<void> => {
    for (const c of clients.splice(0)) c.disconnect();
    await Promise.all(nodes.map((n) => killNode(n)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const count = masters * (1 + replicas);
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      // A folder per node: a replica's sync writes an RDB file there.
      const nodeDir = join(dir, String(port));
      mkdirSync(nodeDir);
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
          join(dir, `nodes-${port}.conf`),
          "--cluster-node-timeout",
          "1000",
          "--dir",
          nodeDir,
          "--save",
          "",
          "--appendonly",
          "no",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let stderr = "";
      proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      proc.once("error", () => undefined);
      nodes.push({ port, url: `redis://127.0.0.1:${port}`, proc });
      let up = false;
      for (let t = 0; t < 100 && !up; t++) {
        if (proc.exitCode !== null) break;
        up = await ping(port);
        if (!up) await sleep(50);
      }
      if (!up)
        throw new Error(
          `redis-server --cluster-enabled yes did not start on ${port}: ${stderr.trim() || "no output"} (does this redis-server support cluster mode?)`,
        );
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
    const cluster: OwnRedisCluster = {
      nodes,
      seeds: nodes.map((n) => n.url),
      client() {
        const c = new Cluster(
          nodes.map((n) => ({ host: "127.0.0.1", port: n.port })),
          { redisOptions: { maxRetriesPerRequest: 1 } },
        );
        c.on("error", () => undefined);
        clients.push(c);
        return c;
      },
      async primaryOf(key) {
        const probe = cluster.client();
        const slot = Number(await probe.call("CLUSTER", "KEYSLOT", key));
        const slots = (await probe.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number]]>;
        const range = slots.find(([from, to]) => slot >= from && slot <= to);
        const port = range?.[2][1];
        const node = nodes.find((n) => n.port === port);
        if (!node) throw new Error(`no primary for slot ${slot}`);
        return node;
      },
      kill: (node) => killNode(node),
      async healthy(timeoutMs = 20_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const live = nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);
          const states = await Promise.all(live.map((n) => clusterState(n.port)));
          if (states.every((s) => s === "ok")) return;
          if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy after ${timeoutMs} ms: ${states.join(", ")}`);
          await sleep(100);
        }
      },
      stop,
    };
    await cluster.healthy();
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

function killNode(node: ClusterNode): Promise<void> {
  const { proc } = node;
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    proc.once("exit", () => done());
    proc.kill("SIGKILL");
  });
}
