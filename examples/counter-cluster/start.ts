/**
 * Starts the counter cluster: two instances (two OS processes) on two ports, sharing one Redis.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 PORT_A=3001 PORT_B=3002 tsx start.ts
 *
 * Ctrl-C stops both. Redis keys live under COUNTER_PREFIX (default "counter-demo:"). The
 * instances listen on 127.0.0.1 (HOST=0.0.0.0 to reach them from other machines).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = process.env.COUNTER_PREFIX ?? "counter-demo:";
const instances = [
  { name: "A", port: process.env.PORT_A ?? "3001" },
  { name: "B", port: process.env.PORT_B ?? "3002" },
];

/** Resolves whether a Redis server answers PING at `url` within a second. */
function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port || 6379), hostname);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => done(/PONG|NOAUTH/.test(String(d))));
  });
}

if (!(await redisAnswers(redisUrl))) {
  console.error(
    `No Redis answers at ${redisUrl}. Start one (e.g. \`redis-server\` or \`docker run -p 6379:6379 redis:7\`) or set REDIS_URL.`,
  );
  process.exit(1);
}

const children: ChildProcess[] = [];
let stopping = false;

/** Stops every instance (SIGTERM: graceful close), then exits with `code`. */
async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
          child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
  process.exit(code);
}

function startInstance(name: string, port: string): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", "instance.ts"], {
    cwd: here,
    env: {
      ...process.env,
      PORT: port,
      INSTANCE_NAME: name,
      REDIS_URL: redisUrl,
      COUNTER_PREFIX: prefix,
      TSX_TSCONFIG_PATH: process.env.TSX_TSCONFIG_PATH ?? `${here}tsconfig.json`,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout!.on("data", (d: Buffer) => {
      process.stdout.write(d);
      seen += d.toString();
      const m = /ready at (http:\/\/\S+)/.exec(seen);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code, signal) => {
      reject(new Error(`instance ${name} exited (${signal ?? code})`));
      if (!stopping) {
        console.error(`instance ${name} stopped (${signal ?? code}): stopping the cluster`);
        void stopAll(1);
      }
    });
  });
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

try {
  const urls = await Promise.all(instances.map((i) => startInstance(i.name, i.port)));
  console.log(`Loly counter cluster (Redis ${redisUrl}, prefix "${prefix}"): open ${urls.join(" and ")}`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  await stopAll(1);
}
