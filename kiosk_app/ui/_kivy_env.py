"""Kivy's environment switches, set before anything imports Kivy."""

import os

# The CLI parses its own arguments; Kivy must not read sys.argv as its own options.
os.environ.setdefault("KIVY_NO_ARGS", "1")
