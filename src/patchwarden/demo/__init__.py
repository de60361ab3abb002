"""``patchwarden demo``: a populated fleet on this machine, offline, within a minute.

- :mod:`~patchwarden.demo.packages` builds a few tiny .debs (security and non-security
  updates whose changelogs name CVEs) into a local apt repository, and the matching
  Debian-tracker feed;
- :mod:`~patchwarden.demo.roots` makes sandbox roots that real apt and dpkg manage, each
  with its own installed state;
- :mod:`~patchwarden.demo.processes` runs ``patchwarden server`` and one ``patchwarden
  agent run`` per root as child processes;
- :mod:`~patchwarden.demo.seed` talks to the server's API: tokens, baselines, patch groups,
  a maintenance window, a conformance pack, the first fleet-wide scan and the readiness
  checks;
- :mod:`~patchwarden.demo.fleet` puts them together (``patchwarden demo`` is its shell).

Nothing is faked: the server, the agents and apt are the real ones, on sandbox roots.
"""
