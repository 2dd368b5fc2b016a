// Usage: node media.mjs <serverUrl> <token> <receiverId> <imagePath>
// Uploads one image the way the original apps do (multipart POST /api/v1/chats with the
// file in `media`), then loads the returned `content` URL with no header, as an image view
// would. Prints {"event":"upload", data:<reply>} and {"event":"image", data:{status, type, sha256}}.
import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";

const [url, token, receiverId, imagePath] = process.argv.slice(2);
const out = (event, data) => process.stdout.write(JSON.stringify({ event, data }) + "\n");

const form = new FormData();
form.append("receiverId", receiverId);
form.append("media", new Blob([await readFile(imagePath)], { type: "image/png" }), "photo.png");
const reply = await fetch(`${url}/api/v1/chats`, { method: "POST", headers: { authorization: token }, body: form });
const body = await reply.json();
out("upload", { status: reply.status, body });
const content = (body.chat?.messages ?? body.messages ?? [])[0]?.content;
const image = await fetch(content);
const bytes = Buffer.from(await image.arrayBuffer());
out("image", { status: image.status, type: image.headers.get("content-type"),
               sha256: createHash("sha256").update(bytes).digest("hex") });
