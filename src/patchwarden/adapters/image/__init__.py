"""Container images read for a scan, without a container engine and without unpacking:
OCI layouts, ``oci-archive`` and ``docker save`` tars, and registries (see :mod:`.reader`)."""
