"""Fleet use cases of the server: sending commands, resolving targets and baselines,
registering nodes, reporting results, the administration of baselines, patch groups,
tokens, activations and nodes, and the background vulnerability assessment (:mod:`.assess`).

Each use case talks to the narrow ports of :mod:`.ports` (SQLAlchemy implementations live in
:mod:`patchwarden.adapters.storage`) and fails with the errors of :mod:`.errors`, which the
server turns into its ``{"error": {"code", "message"}}`` answers.
"""
