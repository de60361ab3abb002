"""The fleet in the server: the per-process work board and node cache of the poll path
(:mod:`.board`, :mod:`.nodecache`, :mod:`.polling`), command sending and baseline
resolution bound to a session (:mod:`.commands`, :mod:`.baselines`), request models
(:mod:`.command_schema`) and API views (:mod:`.views`, :mod:`.command_views`)."""
