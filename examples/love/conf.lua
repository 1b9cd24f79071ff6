-- conf.lua: the LÖVE window for the rayl demo (a 640x480 window; no audio needed).
function love.conf(t)
  t.identity = "rayl-love-demo"
  t.window.title = "rayl: agents planning on workers"
  t.window.width, t.window.height = 640, 480
  t.window.vsync = 1
  t.modules.audio, t.modules.sound, t.modules.joystick, t.modules.physics = false, false, false, false
end
