import type { Namespace, Server } from "socket.io";

/** What the reaper reads of a child namespace: `_preConnectSockets` is socket.io's (private, read only). */
interface ChildNamespace {
  readonly name: string;
  readonly sockets: Map<string, unknown>;
  readonly adapter: { close(): Promise<void> | void };
  readonly _preConnectSockets?: Map<string, unknown>;
}

/** What the reaper reads of a dynamic (regex) parent namespace. */
interface DynamicParent {
  readonly children: Set<Namespace>;
}

/**
 * Drops the child namespaces of dynamic routes once empty. A dynamic route creates a child
 * namespace (with its adapter, and Redis subscriptions in cluster mode) for every name a
 * client asks for, and socket.io keeps them forever, so names could pile up.
 *
 * socket.io's own `cleanupEmptyChildNamespaces` does not fit: it closes a child as soon as
 * its connected sockets are gone, while another socket may still be in its middleware
 * (Loly's admission awaits the auth hook and presence), which would then connect to a
 * namespace socket.io no longer routes to. Here a child goes only when it has neither
 * connected nor connecting sockets, checked after the ticks in which socket.io removes a
 * refused or closed socket.
 */
export class NamespaceReaper {
  private readonly parents: DynamicParent[] = [];

  constructor(private readonly io: Server) {}

  /** Reaps the children of a dynamic route's parent namespace (`io.of(regex)`). */
  watch(parent: Namespace): void {
    this.parents.push(parent as unknown as DynamicParent);
  }

  /** A socket of `nsp` left or was refused: reap `nsp` if it is an empty child. */
  check(nsp: Namespace): void {
    if (this.parents.length === 0) return;
    const parent = this.parents.find((p) => p.children.has(nsp));
    if (!parent) return;
    const child = nsp as unknown as ChildNamespace;
    setImmediate(() => {
      if (child.sockets.size > 0 || (child._preConnectSockets?.size ?? 0) > 0) return;
      if (!parent.children.delete(nsp)) return;
      if ((this.io._nsps.get(child.name) as unknown) === child) this.io._nsps.delete(child.name);
      void Promise.resolve(child.adapter.close()).catch(() => undefined);
    });
  }
}
