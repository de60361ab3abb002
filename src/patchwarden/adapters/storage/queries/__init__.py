"""Reads the server's routes render: plain values and dicts from one query (or a few),
never ORM rows to change."""
