# The bare-relay ceiling for `chatkit bench --target relay`: copied unchanged from the
# reference measurement kit (/work/shared/bench/relay_py.py, alongside the Node generator
# loadgen.js), so chatkit's figures are compared with the very relay the targets are set against.
# Tokens: sign them with the same JWT_SECRET (`chatkit bench --target relay --secret S`).
#
# A bare python-socketio relay (AsyncServer on aiohttp) with NO database: the transport ceiling that chatkit's
# throughput is compared with. Run: PORT=18200 JWT_SECRET=<16+ chars> python relay_py.py (needs python-socketio, aiohttp).
import base64, hashlib, hmac, json, os, time, datetime
import socketio
from aiohttp import web

SECRET = os.environ["JWT_SECRET"].encode()
PORT = int(os.environ.get("PORT", "18200"))

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def verify(token):
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    h, p, s = token.split(".")
    sig = base64.urlsafe_b64encode(hmac.new(SECRET, f"{h}.{p}".encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    if not hmac.compare_digest(sig, s):
        return None
    payload = json.loads(b64d(p))
    if payload.get("exp") and payload["exp"] < time.time():
        return None
    return payload

sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
app = web.Application()
sio.attach(app)
online = set()
chats = {}   # chatId -> set(userId)
who = {}     # sid -> userId

@sio.event
async def connect(sid, environ, auth=None):
    p = verify(environ.get("HTTP_AUTHORIZATION"))
    if not p or not p.get("userId"):
        await sio.emit("error", "Authentication error", to=sid)
        return
    me = str(p["userId"])
    who[sid] = me
    await sio.enter_room(sid, me)
    online.add(me)
    await sio.emit("online-users", list(online))

@sio.on("join-chat")
async def join_chat(sid, d):
    me = who.get(sid)
    if not me or not isinstance(d, dict) or not d.get("chatId"):
        return await sio.emit("error", "Chat ID is required", to=sid)
    chats.setdefault(str(d["chatId"]), set()).add(me)

@sio.on("new-message")
async def new_message(sid, d):
    me = who.get(sid)
    if not me or not isinstance(d, dict) or not isinstance(d.get("content"), str):
        return await sio.emit("error", "bad message", to=sid)
    chat_id = str(d["chatId"]) if d.get("chatId") else None
    to = None
    if d.get("otherUserId"):
        to = str(d["otherUserId"])
    elif chat_id in chats:
        for u in chats[chat_id]:
            if u != me:
                to = u
    if not to:
        return await sio.emit("error", "Chat not found or unauthorized", to=sid)
    await sio.emit("message", {"chat": chat_id, "content": d["content"], "receiver": {"_id": to}, "isMyMsg": False,
                               "createdAt": datetime.datetime.utcnow().isoformat() + "Z"}, room=to)

@sio.event
async def disconnect(sid, *args):
    me = who.pop(sid, None)
    if me:
        online.discard(me)
        await sio.emit("online-users", list(online))

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=PORT, print=lambda *a: print(f"python echo on 127.0.0.1:{PORT}", flush=True))
