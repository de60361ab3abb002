"""The zypper/rpm adapter (SUSE Linux Enterprise Server, openSUSE Leap).

:mod:`.manager` is the :class:`~patchwarden.ports.PackageManager`; :mod:`.execute` runs
zypper confined to a root; :mod:`.patches` reads what zypper says about patches and
package versions.
"""
