#!/usr/bin/env python3
"""Build ``web-site_VERSION_all.deb``, the example service's content, with dpkg-deb.

    python3 examples/deployments/support/site-package.py VERSION OUTDIR [--broken]

The package installs ``/srv/www/index.html`` (``web-site VERSION``) and ``/srv/www/health``
(``ok``); ``--broken`` leaves the health page out, so a deployment's health check fails.
Publishing a newer version to the example mirror (``local-mirror.py DIR --publish FILE``)
is how docs/deployments.md makes a "fix" land.  Standard library and dpkg-deb only.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--broken", action="store_true", help="no /srv/www/health")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        (root / "DEBIAN").mkdir()
        (root / "DEBIAN" / "control").write_text(
            "Package: web-site\n"
            f"Version: {args.version}\n"
            "Architecture: all\n"
            "Maintainer: Patchwarden example <example@localhost>\n"
            "Section: web\n"
            "Priority: optional\n"
            "Description: the example service's pages\n"
        )
        www = root / "srv" / "www"
        www.mkdir(parents=True)
        (www / "index.html").write_text(f"web-site {args.version}\n")
        if not args.broken:
            (www / "health").write_text("ok\n")
        args.outdir.mkdir(parents=True, exist_ok=True)
        out = args.outdir / f"web-site_{args.version}_all.deb"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
