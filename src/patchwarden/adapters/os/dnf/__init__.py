"""The dnf/rpm adapter of RHEL-family roots (:class:`.manager.DnfPackageManager`).

- :mod:`.manager` — the :class:`~patchwarden.ports.PackageManager`: collect, plan, install;
- :mod:`.rpmdb`, :mod:`.repos`, :mod:`.repomd`, :mod:`.updateinfo`, :mod:`.cache` — the rpm
  database, enabled repositories, their metadata and update notices;
- :mod:`.facts` — the facts of one version; :mod:`.execute` — dnf confined to the root.
"""
