// Usage: node interop.mjs <serverUrl> <token> <otherUserId> <content>
// Connects like the original mobile apps (raw JWT in the `authorization` header, websocket
// transport), sends one message with an ack, and prints every event as one JSON line:
//   {"event": "<name>", "data": <payload>}
// plus {"event":"ack", ...} for the ack and {"event":"connect_error", ...} on refusal.
import { io } from "socket.io-client";

const [url, token, otherUserId, content] = process.argv.slice(2);
const out = (event, data) => process.stdout.write(JSON.stringify({ event, data }) + "\n");

const socket = io(url, {
  transports: ["websocket"],
  extraHeaders: { authorization: token },
  reconnection: false,
  timeout: 5000,
});

const done = (code) => {
  socket.close();
  setTimeout(() => process.exit(code), 50);
};
setTimeout(() => { out("timeout", null); done(2); }, 10000);

socket.onAny((event, ...args) => out(event, args.length === 1 ? args[0] : args));
socket.on("connect_error", (err) => { out("connect_error", { message: err.message }); done(1); });
socket.on("connect", async () => {
  out("connect", { id: socket.id });
  try {
    const ack = await socket.timeout(5000).emitWithAck("new-message", { content, otherUserId });
    out("ack", ack);
  } catch (err) {
    out("ack_error", { message: String(err) });
    done(3);
    return;
  }
  // stay a moment for the events that follow the ack (new-chat, message-delivered)
  setTimeout(() => done(0), 700);
});
