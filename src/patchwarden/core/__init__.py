"""Pure domain: no I/O, no clock, no logging set-up. ``now`` is always a parameter."""
