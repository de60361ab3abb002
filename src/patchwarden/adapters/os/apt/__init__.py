"""The apt/dpkg adapter of Debian-family roots (:class:`.manager.AptPackageManager`).

- :mod:`.manager` — the :class:`~patchwarden.ports.PackageManager`: collect, plan, install;
- :mod:`.index`, :mod:`.lists`, :mod:`.conf`, :mod:`.root` — reading the dpkg status, apt's
  lists, apt.conf, preferences and other facts of the root;
- :mod:`.policy`, :mod:`.candidates`, :mod:`.phasing`, :mod:`.facts` — apt's pin policy,
  the versions apt could choose, phased updates, the facts of one version;
- :mod:`.execute` — apt-get with a root-confined ``APT_CONFIG``;
- :mod:`.changelog`, :mod:`.changelog_cves` — changelog dates and CVEs of pending updates.
"""
