-- conf.lua: the Catch window (LÖVE); audio and physics are not needed.
function love.conf(t)
  t.identity = "rayl-catch"
  t.window.title = "rayl: Catch, played by a PPO policy"
  t.window.width, t.window.height = 400, 480
  t.modules.audio, t.modules.sound, t.modules.joystick, t.modules.physics = false, false, false, false
end
