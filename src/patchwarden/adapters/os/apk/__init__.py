"""The apk adapter (Alpine Linux): installed database, cached APKINDEX files, apk-tools.

- :mod:`.db` — the installed database and APKINDEX blocks;
- :mod:`.repos` — ``etc/apk/repositories`` and the cache file of each repository's index;
- :mod:`.manager` — :class:`~.manager.ApkPackageManager`.
"""
