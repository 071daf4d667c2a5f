import type { Recovery } from "../recovery/restore.js";
import { OFFSET_EVENT } from "../recovery/restore.js";
import type { SharedServices } from "../services.js";
import type { SocketRecord } from "../socket/record.js";
import { USER_ROOM_PREFIX } from "../socket/rooms.js";

/** What a connected socket's `packet` takes (Socket.IO's own, protected). */
type RawPacketSocket = { packet(packet: { type: number; data: unknown[] }): void };

/**
 * Right after a socket connected: a recovered one gets, in this order and in the same tick
 * (nothing new can come between), every event it missed, then its rooms back (presence too);
 * a new one gets its first offset, so that it can recover even before a broadcast reached it.
 */
export function giveBack(recovery: Recovery, rec: SocketRecord, shared: SharedServices): void {
  const { socket } = rec;
  const restore = rec.restore;
  rec.restore = null;
  if (restore === null) {
    socket.emit(OFFSET_EVENT, recovery.position(socket.nsp.name));
    return;
  }
  rec.recovered = true;
  for (const packet of recovery.missed(socket.nsp.name, restore) ?? []) {
    (socket as unknown as RawPacketSocket).packet({ type: 2, data: packet.data });
  }
  for (const room of restore.session.rooms) {
    if (room === socket.id || room.startsWith(USER_ROOM_PREFIX)) continue;
    void socket.join(room);
    if (rec.userId !== null)
      void shared.bounded(shared.presence.join(socket.nsp.name, socket.id, room), "presence.join").catch(() => undefined);
  }
}
