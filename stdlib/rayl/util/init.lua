-- rayl.util: Ray's ray.util for Lua: ActorPool, Queue, a multiprocessing-style Pool,
-- placement groups and the state API.
--
--   local util = require "rayl.util"      -- also rayl.util
--   util.ActorPool.new(actors) ; util.Queue.new{ maxsize = 0 } ; util.Pool.new(processes)
--   util.placement_group(bundles, {strategy = "PACK"}) ; util.remove_placement_group(pg)
local pg = require "rayl.placement_group"

--   util.state.list_tasks{ filters = { state = "RUNNING" } }
return {
  ActorPool = require "rayl.util.actor_pool",
  Queue = require "rayl.util.queue",
  Pool = require "rayl.util.pool",
  placement_group = pg.placement_group,
  remove_placement_group = pg.remove_placement_group,
  get_placement_group = pg.get_placement_group,
  placement_group_table = pg.placement_group_table,
  PlacementGroupSchedulingStrategy = pg.PlacementGroupSchedulingStrategy,
  PlacementGroup = pg.PlacementGroup,
  state = require "rayl.util.state",
}
