-- spec/raw_peer.lua: a ZeroMQ client of the specs' own, with no rayl code on its side:
-- it sends raw frames (optionally with CURVE keys) to a daemon's socket, as a stranger
-- or a buggy member would.
local ffi = require "ffi"

pcall(ffi.cdef, [[
  void *zmq_ctx_new(void);
  int zmq_ctx_term(void *ctx);
  void *zmq_socket(void *ctx, int type);
  int zmq_connect(void *s, const char *addr);
  int zmq_setsockopt(void *s, int option, const void *value, size_t len);
  int zmq_send(void *s, const void *buf, size_t len, int flags);
  int zmq_recv(void *s, void *buf, size_t len, int flags);
  int zmq_close(void *s);
  int zmq_curve_keypair(char *z85_public_key, char *z85_secret_key);
  int zmq_curve_public(char *z85_public_key, const char *z85_secret_key);
]])
local ZMQ_DEALER, ZMQ_LINGER, ZMQ_RCVTIMEO = 5, 17, 27
local ZMQ_CURVE_PUBLICKEY, ZMQ_CURVE_SECRETKEY, ZMQ_CURVE_SERVERKEY = 48, 49, 50
local ZMQ_SNDMORE, ZMQ_ROUTING_ID = 2, 5
local zmq = (function()
  local ok, lib = pcall(ffi.load, "zmq")
  return ok and lib or ffi.load("libzmq.so.5")
end)()

local peer = {}

--- peer.keypair() -> public, secret (Z85)
function peer.keypair()
  local pub, secret = ffi.new("char[41]"), ffi.new("char[41]")
  assert(zmq.zmq_curve_keypair(pub, secret) == 0)
  return ffi.string(pub), ffi.string(secret)
end

--- peer.public_of(secret) -> the public half of a Z85 secret key
function peer.public_of(secret)
  local pub = ffi.new("char[41]")
  assert(zmq.zmq_curve_public(pub, secret) == 0)
  return ffi.string(pub)
end

--- peer.member_keys(key_file) -> the keys a member of the cluster whose key is in key_file uses
function peer.member_keys(key_file)
  local f = assert(io.open(key_file))
  local secret = f:read("*a"):gsub("%s+$", "")
  f:close()
  local pub = peer.public_of(secret)
  return { server = pub, public = pub, secret = secret }
end

--- peer.frame(type, body) -> a rayl message: header (version 1, type, 0, 0) + msgpack body
function peer.frame(msg_type, body) return "\1" .. string.char(msg_type) .. "\0\0" .. body end

--- peer.send(endpoint, keys, frames, ms, opts) -> the first reply within ms, or nil
-- Connects a DEALER to endpoint (with CURVE keys {server=, public=, secret=} if given) and
-- sends each frame (a string, or a table of strings: the parts of one multipart message).
-- opts: routing_id (the socket's), linger (ms to let unsent frames leave at close; 0).
function peer.send(endpoint, keys, frames, ms, opts)
  opts = opts or {}
  local ctx = zmq.zmq_ctx_new()
  local s = zmq.zmq_socket(ctx, ZMQ_DEALER)
  local int = ffi.new("int[1]", opts.linger or 0)
  zmq.zmq_setsockopt(s, ZMQ_LINGER, int, 4)
  int[0] = ms
  zmq.zmq_setsockopt(s, ZMQ_RCVTIMEO, int, 4)
  if keys then
    zmq.zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, keys.server, 40)
    zmq.zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, keys.public, 40)
    zmq.zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, keys.secret, 40)
  end
  if opts.routing_id then zmq.zmq_setsockopt(s, ZMQ_ROUTING_ID, opts.routing_id, #opts.routing_id) end
  assert(zmq.zmq_connect(s, endpoint) == 0)
  for _, f in ipairs(frames) do
    local parts = type(f) == "table" and f or { f }
    for i, p in ipairs(parts) do zmq.zmq_send(s, p, #p, i < #parts and ZMQ_SNDMORE or 0) end
  end
  local buf = ffi.new("char[65536]")
  local n = zmq.zmq_recv(s, buf, 65536, 0)
  zmq.zmq_close(s)
  zmq.zmq_ctx_term(ctx)
  return n >= 0 and ffi.string(buf, math.min(n, 65536)) or nil
end

return peer
