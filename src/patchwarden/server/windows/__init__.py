"""Maintenance windows in the server: the scheduler's loop (:mod:`.scheduler`), the ports of
:mod:`patchwarden.pipeline.windows` bound to a session (:mod:`.wiring`), and what the window
routes and document apply call (:mod:`.api`)."""
