import type { Recovery, Restore } from "../recovery/restore.js";
import { OFFSET_EVENT } from "../recovery/restore.js";
import { presenceJoin } from "../socket/live-presence.js";
import type { SocketRecord } from "../socket/record.js";
import { USER_ROOM_PREFIX } from "../socket/rooms.js";

/** What a connected socket's `packet` takes (Socket.IO's own, protected). */
type RawPacketSocket = { packet(packet: { type: number; data: unknown[] }): void };

/**
 * Right after a socket connected: a recovered one gets every event it missed, then its rooms
 * back (presence too), before anything new: in the same tick on one instance, through the
 * cluster's catch-up otherwise (the promise, which `onConnect` waits for). A new socket gets
 * its first offset, so that it can recover even before a broadcast reached it.
 */
export function giveBack(recovery: Recovery, rec: SocketRecord): Promise<void> | undefined {
  const { socket } = rec;
  const restore = rec.restore;
  rec.restore = null;
  recovery.track(socket, rec.userId);
  if (restore === null) {
    const position = recovery.position(socket.nsp.name);
    // Straight to the socket, not through the adapter as `socket.emit` goes with recovery on:
    // it is not a broadcast to keep (the log would hold one per connection for its whole
    // window and count them against `recovery.maxEvents`, evicting real broadcasts in a
    // connection storm), and socket.io-client takes the last string argument as its offset.
    if (position !== undefined) (socket as unknown as RawPacketSocket).packet({ type: 2, data: [OFFSET_EVENT, position] });
    return undefined;
  }
  rec.recovered = true;
  if (recovery.async) return recovery.catchUp(socket, restore, () => rejoin(rec, restore));
  for (const packet of recovery.missedNow(socket.nsp.name, restore) ?? []) {
    (socket as unknown as RawPacketSocket).packet({ type: 2, data: packet.data });
  }
  rejoin(rec, restore);
  return undefined;
}

/** Gives a recovered socket its rooms back (its own and its user's it has already). */
function rejoin(rec: SocketRecord, restore: Restore): void {
  const { socket } = rec;
  for (const room of restore.session.rooms) {
    if (room === socket.id || room.startsWith(USER_ROOM_PREFIX)) continue;
    void socket.join(room);
    // A broadcasting route's room hears the user is back when the disconnect had taken them out.
    if (rec.userId !== null) void presenceJoin(rec, room).catch(() => undefined);
  }
}
