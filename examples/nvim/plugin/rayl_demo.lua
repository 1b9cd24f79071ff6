-- plugin/rayl_demo.lua: the :RaylPi command (see lua/rayl_demo.lua), loaded when
-- examples/nvim is on 'runtimepath'.
vim.api.nvim_create_user_command("RaylPi", function(opts)
  require("rayl_demo").pi(tonumber(opts.args) or 16, { quit = opts.bang })
end, { nargs = "?", bang = true, desc = "estimate pi on rayl workers; ! quits when done" })

-- The private cluster rayl started for this editor goes with it.
vim.api.nvim_create_autocmd("VimLeavePre", {
  callback = function()
    if package.loaded.rayl and package.loaded.rayl.is_initialized() then package.loaded.rayl.shutdown() end
  end,
})
