"""devcloud: a small multi-region OpenStack on one machine, for Cascade to front.

`python -m devcloud up|down|status|env` -- see README.md.
"""
