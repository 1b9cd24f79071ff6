-- rayl.util: Ray's ray.util for Lua: ActorPool, Queue and a multiprocessing-style Pool.
--
--   local util = require "rayl.util"
--   util.ActorPool.new(actors) ; util.Queue.new{ maxsize = 0 } ; util.Pool.new(processes)
return {
  ActorPool = require "rayl.util.actor_pool",
  Queue = require "rayl.util.queue",
  Pool = require "rayl.util.pool",
}
