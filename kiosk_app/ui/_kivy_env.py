"""Kivy's environment switches, set before anything imports Kivy."""

import os

# The CLI parses its own arguments; Kivy must not read sys.argv as its own options.
os.environ.setdefault("KIVY_NO_ARGS", "1")
# No multisampling: under a software renderer it was two thirds of every frame's cost
# (98 ms of a full redraw against 37 ms); the shapes antialias their own edges instead
# (Smooth* instructions in the kv files), and text and photos are textures either way.
os.environ.setdefault("KCFG_GRAPHICS_MULTISAMPLES", "0")
