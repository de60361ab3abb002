"""The node component: what must happen on a managed node, on the node's own Python.

Python 3.6 syntax and the standard library only (it runs on RHEL 8's 3.6 as well as on
Debian 12's 3.11); it imports nothing from Patchwarden but :mod:`patchwarden.wire` and
:mod:`patchwarden.aptcmd`.  It reads the package manager's files of its root and uploads
them content-addressed, runs the exact installs the server orders, and reports; the
evaluation runs on the server with the same pipeline as ``patchwarden scan``.
"""
