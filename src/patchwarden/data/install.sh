#!/bin/sh
# Patchwarden node component installer, as rendered by the Patchwarden server at
#   @@SERVER_URL@@/agent/install.sh
# for node component version @@VERSION@@.
#
# Usage (as root):
#   curl -fsS @@SERVER_URL@@/agent/install.sh | sudo sh -s -- \
#     --activation-id ID --activation-code CODE [--tag K=V]... [--name NAME] [--root DIR] \
#     [--python PATH] [--prefix DIR] [--ca-file FILE] [--no-start]
#
# It finds a Python 3.6 or newer, downloads the bundle from this server into
# PREFIX/opt/patchwarden-node/bundles/, checks its SHA-256, points
# PREFIX/opt/patchwarden-node/current.pyz at it, registers the node (state in
# PREFIX/var/lib/patchwarden-node; skipped when the node is registered already, so running
# it again upgrades the bundle in place), writes
# PREFIX/etc/systemd/system/patchwarden-node.service and, when systemd runs and no --prefix
# or --no-start was given, enables and (re)starts the service.  It talks to this server only.
set -eu

SERVER_URL='@@SERVER_URL@@'
VERSION='@@VERSION@@'
SHA256='@@SHA256@@'
BUNDLE="patchwarden-node-$VERSION.pyz"
UNIT_NAME=patchwarden-node

ACTIVATION_ID=''
ACTIVATION_CODE=''
NAME=''
ROOT=''
PYTHON=''
PREFIX=''
CA_FILE=''
START=1
TMP_FILE=''
TMP_LINK=''

die() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}

usage() {
    cat <<EOF
usage: install.sh --activation-id ID --activation-code CODE [--tag K=V]... [--name NAME]
                  [--root DIR] [--python PATH] [--prefix DIR] [--ca-file FILE] [--no-start]
Installs patchwarden-node $VERSION from $SERVER_URL and registers this node.
EOF
}

cleanup() {
    if [ -n "$TMP_FILE" ]; then rm -f "$TMP_FILE"; fi
    if [ -n "$TMP_LINK" ]; then rm -f "$TMP_LINK"; fi
}
trap cleanup 0
trap 'exit 130' INT
trap 'exit 143' TERM

# The absolute form of a path (its directory must exist).
absolute() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(pwd)" "$1" ;;
    esac
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            -h | --help)
                usage
                exit 0
                ;;
            --no-start)
                START=0
                shift
                continue
                ;;
            --activation-id | --activation-code | --tag | --name | --root | --python | --prefix | --ca-file) ;;
            *) die "unknown argument '$1'; run it with --help for the usage" ;;
        esac
        [ $# -ge 2 ] || die "$1 needs a value; run it with --help for the usage"
        case $1 in
            --activation-id) ACTIVATION_ID=$2 ;;
            --activation-code) ACTIVATION_CODE=$2 ;;
            --name) NAME=$2 ;;
            --root) ROOT=$2 ;;
            --python) PYTHON=$2 ;;
            --prefix) PREFIX=$2 ;;
            --ca-file) CA_FILE=$2 ;;
            --tag)
                case $2 in
                    ?*=*) ;;
                    *) die "--tag '$2' is not KEY=VALUE; give tags as --tag KEY=VALUE" ;;
                esac
                ;;
        esac
        shift 2
    done
}

python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 6) else 1)' >/dev/null 2>&1
}

find_python() {
    if [ -n "$PYTHON" ]; then
        found=$(command -v "$PYTHON" 2>/dev/null) || die "--python $PYTHON: no such program; give the path of a Python 3.6 or newer"
        python_ok "$found" || die "--python $PYTHON is not a working Python 3.6 or newer; give another one"
        PY=$(absolute "$found")
        return 0
    fi
    for candidate in python3 /usr/libexec/platform-python python3.13 python3.12 python3.11 \
        python3.10 python3.9 python3.8 python3.7 python3.6; do
        found=$(command -v "$candidate" 2>/dev/null) || continue
        if python_ok "$found"; then
            PY=$(absolute "$found")
            return 0
        fi
    done
    die "no Python 3.6 or newer found; install one (Debian/Ubuntu: apt-get install python3-minimal; RHEL/Fedora/Amazon Linux: dnf install python3 or yum install python3) or name it with --python PATH"
}

# download URL FILE: the body of URL into FILE (curl, else wget); on failure, one line
download() {
    if command -v curl >/dev/null 2>&1; then
        tool=curl
        if [ -n "$CA_FILE" ]; then
            curl -fs --cacert "$CA_FILE" -o "$2" "$1" && return 0
        else
            curl -fs -o "$2" "$1" && return 0
        fi
    elif command -v wget >/dev/null 2>&1; then
        tool=wget
        if [ -n "$CA_FILE" ]; then
            wget -q --ca-certificate="$CA_FILE" -O "$2" "$1" && return 0
        else
            wget -q -O "$2" "$1" && return 0
        fi
    else
        die "neither curl nor wget is installed; install curl (or wget) and run this again"
    fi
    die "downloading $1 failed ($tool exit code $?); check that this node reaches the server (and --ca-file for a private CA)"
}

# The SHA-256 of a file, hex.
sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sum=$(sha256sum <"$1") || return 1
        printf '%s\n' "${sum%% *}"
    else
        "$PY" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
    fi
}

# The node component's own arguments of registration: the --tag options given to install.sh.
register() {
    skip=''
    for arg do
        shift
        case $skip in
            tag)
                set -- "$@" "--tag=$arg"
                skip=''
                continue
                ;;
            value)
                skip=''
                continue
                ;;
        esac
        case $arg in
            --tag) skip=tag ;;
            --activation-id | --activation-code | --name | --root | --python | --prefix | --ca-file)
                skip=value
                ;;
        esac
    done
    # --option=VALUE: a value starting with "-" must not read as an option
    if [ -n "$NAME" ]; then set -- "$@" "--name=$NAME"; fi
    if [ -n "$ROOT" ]; then set -- "$@" "--root=$ROOT"; fi
    if [ -n "$CA_FILE" ]; then set -- "$@" "--ca-file=$CA_FILE"; fi
    "$PY" "$CURRENT" register "--server=$SERVER_URL" "--activation-id=$ACTIVATION_ID" \
        "--activation-code=$ACTIVATION_CODE" "--state-dir=$STATE_DIR" "$@"
}

parse_args "$@"

if [ -z "$PREFIX" ] && [ "$(id -u)" != 0 ]; then
    die "it must run as root (it writes /opt, /var/lib and /etc); run it with sudo, or give --prefix DIR"
fi
if [ -n "$CA_FILE" ]; then
    [ -r "$CA_FILE" ] || die "--ca-file $CA_FILE cannot be read; give the PEM file of the CA that signed the server's certificate"
    CA_FILE=$(absolute "$CA_FILE")
fi
if [ -n "$ROOT" ]; then
    [ -d "$ROOT" ] || die "--root $ROOT is not a directory; give the root directory of the system to manage"
    ROOT=$(absolute "$ROOT")
fi
if [ -n "$PREFIX" ]; then
    mkdir -p "$PREFIX" 2>/dev/null || die "cannot create --prefix $PREFIX; give a directory you can write"
    PREFIX=$(cd "$PREFIX" && pwd) || die "cannot enter --prefix $PREFIX; give a directory you can write"
    PREFIX=${PREFIX%/}
fi

case $PREFIX in
    *[[:space:]%\\]*) die "--prefix '$PREFIX' holds a space, % or backslash, which a systemd unit cannot name; give another directory" ;;
esac
OPT_DIR="$PREFIX/opt/patchwarden-node"
BUNDLE_DIR="$OPT_DIR/bundles"
BUNDLE_PATH="$BUNDLE_DIR/$BUNDLE"
CURRENT="$OPT_DIR/current.pyz"
STATE_DIR="$PREFIX/var/lib/patchwarden-node"
UNIT_DIR="$PREFIX/etc/systemd/system"
UNIT_FILE="$UNIT_DIR/$UNIT_NAME.service"
REGISTERED=0
if [ -f "$STATE_DIR/node.json" ]; then REGISTERED=1; fi
if [ "$REGISTERED" = 0 ] && { [ -z "$ACTIVATION_ID" ] || [ -z "$ACTIVATION_CODE" ]; }; then
    die "--activation-id and --activation-code are required to register this node; create an activation on the server (patchwarden activation create) and give both"
fi

PY=''
find_python

umask 022
mkdir -p "$BUNDLE_DIR" 2>/dev/null || die "cannot create $BUNDLE_DIR; check that $OPT_DIR is writable"

# 1. the bundle, checked against the SHA-256 the server rendered into this script
if [ -f "$BUNDLE_PATH" ] && [ "$(sha256_of "$BUNDLE_PATH")" = "$SHA256" ]; then
    printf 'patchwarden-node %s: %s is already here and intact\n' "$VERSION" "$BUNDLE_PATH"
else
    TMP_FILE="$BUNDLE_DIR/.$BUNDLE.$$.tmp"
    download "$SERVER_URL/agent/bundle/$VERSION.pyz" "$TMP_FILE"
    got=$(sha256_of "$TMP_FILE") || die "cannot compute the SHA-256 of the download; install sha256sum (coreutils)"
    if [ "$got" != "$SHA256" ]; then
        die "the downloaded $BUNDLE has SHA-256 $got, not $SHA256 as the server announced; nothing was installed: fetch install.sh again, or check what between this node and the server alters downloads"
    fi
    chmod 0755 "$TMP_FILE"
    mv -f "$TMP_FILE" "$BUNDLE_PATH" || die "cannot move the bundle to $BUNDLE_PATH; check that $BUNDLE_DIR is writable"
    TMP_FILE=''
fi
"$PY" "$BUNDLE_PATH" version >/dev/null 2>&1 ||
    die "$PY cannot run $BUNDLE_PATH; run '$PY $BUNDLE_PATH version' to see why, or give another --python"

# 2. current.pyz -> bundles/<this version> (replaced in one rename)
TMP_LINK="$OPT_DIR/.current.pyz.$$"
ln -s "bundles/$BUNDLE" "$TMP_LINK" || die "cannot create a symbolic link in $OPT_DIR; check that it is writable"
mv -f "$TMP_LINK" "$CURRENT" || die "cannot replace $CURRENT; check that $OPT_DIR is writable"
TMP_LINK=''

# 3. registration (once: node.json holds the node's id and credential)
if [ "$REGISTERED" = 1 ]; then
    printf 'patchwarden-node: already registered (%s); registration skipped\n' "$STATE_DIR/node.json"
else
    mkdir -p "$STATE_DIR" 2>/dev/null || die "cannot create $STATE_DIR; check that $PREFIX/var/lib is writable"
    chmod 0700 "$STATE_DIR"
    if said=$(register "$@" 2>&1); then
        printf '%s\n' "$said"
    else
        reason=$(printf '%s\n' "$said" | tail -n 1)
        die "registering with $SERVER_URL failed: ${reason#patchwarden-node: }; check the activation id and code (an activation expires and has a registration limit), then run this again"
    fi
fi

# 4. the systemd unit
mkdir -p "$UNIT_DIR" 2>/dev/null || die "cannot create $UNIT_DIR; check that it is writable"
cat >"$UNIT_FILE.tmp" <<EOF || die "cannot write $UNIT_FILE; check that $UNIT_DIR is writable"
# Written by $SERVER_URL/agent/install.sh (patchwarden-node $VERSION).
# Upgrades and rollbacks repoint $CURRENT; this file stays.
[Unit]
Description=Patchwarden node component
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=$PY $CURRENT run --state-dir $STATE_DIR
Restart=always
RestartSec=10
Environment=PYTHONUNBUFFERED=1
# Hardening that still lets apt, dpkg and dnf work: they write /usr, /etc and /boot, install
# setuid files, run sysctl and foreign-architecture maintainer scripts, so no ProtectSystem,
# RestrictSUIDSGID, ProtectKernelTunables or SystemCallArchitectures here.
PrivateTmp=yes
ProtectHome=read-only
LockPersonality=yes
RestrictRealtime=yes
UMask=0022

[Install]
WantedBy=multi-user.target
EOF
mv -f "$UNIT_FILE.tmp" "$UNIT_FILE" || die "cannot write $UNIT_FILE; check that $UNIT_DIR is writable"

# 5. start (or say how)
if [ "$START" = 1 ] && [ -z "$PREFIX" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || die "systemctl daemon-reload failed; run it yourself, then systemctl enable --now $UNIT_NAME"
    systemctl enable "$UNIT_NAME" >/dev/null 2>&1 || die "systemctl enable $UNIT_NAME failed; see systemctl status $UNIT_NAME"
    systemctl restart "$UNIT_NAME" || die "systemctl restart $UNIT_NAME failed; see journalctl -u $UNIT_NAME"
    printf 'patchwarden-node %s installed and running (systemctl status %s)\n' "$VERSION" "$UNIT_NAME"
elif [ -z "$PREFIX" ] && [ -d /run/systemd/system ]; then
    printf 'patchwarden-node %s installed; start it with: systemctl enable --now %s\n' "$VERSION" "$UNIT_NAME"
else
    printf 'patchwarden-node %s installed; the unit is %s; without systemd, start it with: %s %s run --state-dir %s\n' \
        "$VERSION" "$UNIT_FILE" "$PY" "$CURRENT" "$STATE_DIR"
fi
