"""The node agent: registers with an activation, uploads inventory, long-polls for
RunPatchBaseline invocations and runs them through the same pipeline as the CLI.

- :mod:`.register` — activation id + code → node id + credential (state dir, 0600);
- :mod:`.client` — the HTTP calls (httpx);
- :mod:`.journal` — the crash-safe local journal;
- :mod:`.execute` — one invocation through ``pipeline.scan`` / ``pipeline.install``;
- :mod:`.loop` — the main loop (back-off, spool, periodic inventory).
"""
