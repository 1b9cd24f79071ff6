-- embed_broken_mod.lua: a module that raises while it loads (spec/c/embed_test.c).
error("broken on purpose")
