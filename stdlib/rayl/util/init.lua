-- rayl.util: Ray's ray.util for Lua: ActorPool, Queue, a multiprocessing-style Pool, and
-- the state API.
--
--   local util = require "rayl.util"
--   util.ActorPool.new(actors) ; util.Queue.new{ maxsize = 0 } ; util.Pool.new(processes)
--   util.state.list_tasks{ filters = { state = "RUNNING" } }
return {
  ActorPool = require "rayl.util.actor_pool",
  Queue = require "rayl.util.queue",
  Pool = require "rayl.util.pool",
  state = require "rayl.util.state",
}
