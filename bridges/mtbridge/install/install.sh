#!/usr/bin/env bash
# Installs mtbridge on Linux as a systemd service, in one command, from a copy of the repository:
#
#   sudo bridges/mtbridge/install/install.sh [--with-mysql]
#
# What it does (bridge-protocol/bridges.md walks through it): a Python venv in /opt/mtbridge with the bridge
# installed as a package (PyMySQL too when a report database is the source), a `mtbridge` system user,
# /etc/mtbridge (root:mtbridge 0750) with an example mtbridge.toml and a freshly generated key (each written only
# when missing), /var/lib/mtbridge for the bridge's own files, and mtbridge.service, enabled; started when the
# configuration checks out. Running it again upgrades the bridge in place and keeps the configuration and the key.
#
# Needs Python 3.11 or later with its venv module (Debian 12: python3 and python3-venv, which it installs when
# missing). Needs no network unless PyMySQL must be downloaded: give --find-links DIR (a folder holding the PyMySQL
# wheel) on a host without one.
set -euo pipefail
umask 022  # the venv must be readable by the service's user whatever root's umask is; secrets get explicit modes

usage() {
    cat <<'EOF'
usage: install.sh [options]
  --with-mysql        also install PyMySQL (source.kind mt5-sql-export or mt4-report-server); automatic when the
                      existing configuration names one of them
  --prefix DIR        where the venv goes (default /opt/mtbridge; the command is DIR/bin/mtbridge)
  --user NAME         the user the service runs as (default mtbridge, created as a system user when missing)
  --key-id ID         the key id written into a new configuration (default mtbridge-<short host name>)
  --python PROGRAM    the Python 3.11+ to build the venv from (default python3)
  --find-links DIR    install PyMySQL from the wheels in DIR, without an index (a host without network)
  --no-systemd        touch no service and install no unit (containers, other init systems)
  --root DIR          install everything under DIR as if it were / (tests, image builds): the unit file is
                      written under DIR, but no user is created, no service touched, nothing checked, and the
                      venv runs from DIR only
  --uninstall         stop and remove the service and the venv; keep /etc/mtbridge and /var/lib/mtbridge
  --purge             with --uninstall: remove those two folders too (the key and the configuration are lost)
  -h, --help          this text
EOF
}

prefix=/opt/mtbridge
root=""
user=mtbridge
key_id=""
python=python3
find_links=""
with_mysql=no
systemd=yes
uninstall=no
purge=no
while [ $# -gt 0 ]; do
    case "$1" in
        --with-mysql) with_mysql=yes; shift ;;
        --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
        --user) user=${2:?--user needs a name}; shift 2 ;;
        --key-id) key_id=${2:?--key-id needs an id}; shift 2 ;;
        --python) python=${2:?--python needs a program}; shift 2 ;;
        --find-links) find_links=${2:?--find-links needs a folder}; shift 2 ;;
        --no-systemd) systemd=no; shift ;;
        --root) root=${2:?--root needs a folder}; shift 2 ;;
        --uninstall) uninstall=yes; shift ;;
        --purge) purge=yes; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 64 ;;
    esac
done

say() { printf 'mtbridge install: %s\n' "$*"; }
fail() { printf 'mtbridge install: %s\n' "$*" >&2; exit 1; }

case "$prefix" in /*) ;; *) fail "--prefix must be an absolute path" ;; esac
if [ -n "$key_id" ] && ! [[ "$key_id" =~ ^[A-Za-z0-9._:-]{1,64}$ ]]; then
    fail "--key-id: 1 to 64 letters, digits, '.', '_', ':' or '-'"
fi
if [ -n "$root" ]; then
    mkdir -p "$root"
    root=$(cd "$root" && pwd)
    systemd=no  # a staging root is not this machine: its services are not ours to touch
fi
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)  # bridges/mtbridge
venv=$root$prefix
config_dir=$root/etc/mtbridge
state_dir=$root/var/lib/mtbridge
unit=$root/etc/systemd/system/mtbridge.service
config=$config_dir/mtbridge.toml
key=$config_dir/key
as_root=no
[ "$(id -u)" = 0 ] && as_root=yes
if [ "$as_root" = no ] && [ -z "$root" ]; then
    fail "run it as root (sudo $0), or give --root DIR to install under DIR"
fi
if [ "$systemd" = yes ] && ! command -v systemctl >/dev/null; then
    fail "systemctl is missing: give --no-systemd to install without the service"
fi

# --- uninstall -----------------------------------------------------------------------------------------------
if [ "$uninstall" = yes ]; then
    if [ "$systemd" = yes ] && [ -e "$unit" ]; then
        systemctl disable --now mtbridge.service || true
        rm -f "$unit"
        systemctl daemon-reload
        say "removed mtbridge.service"
    fi
    if [ -e "$venv/pyvenv.cfg" ]; then
        rm -rf "$venv"
        say "removed $venv"
    fi
    if [ "$purge" = yes ]; then
        rm -rf "$config_dir" "$state_dir"
        say "removed $config_dir and $state_dir (the key and the configuration are gone)"
    else
        say "kept $config_dir (configuration, key) and $state_dir; --uninstall --purge removes them"
    fi
    say "the user $user is kept (userdel $user removes it)"
    exit 0
fi

# --- Python ------------------------------------------------------------------------------------------------------
if ! command -v "$python" >/dev/null; then
    fail "$python not found: install Python 3.11 or later (Debian 12: apt-get install python3 python3-venv), or name it with --python"
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    fail "$("$python" --version 2>&1) is too old: mtbridge needs Python 3.11 or later (tomllib); name one with --python (e.g. --python python3.11)"
fi
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    # Debian and Ubuntu split venv's pip bootstrap into a package of its own.
    version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    if [ "$as_root" = yes ] && [ -z "$root" ] && command -v apt-get >/dev/null; then
        say "installing python$version-venv (apt-get)"
        apt-get install -y "python$version-venv" >/dev/null || apt-get install -y python3-venv >/dev/null
    fi
    "$python" -c 'import venv, ensurepip' 2>/dev/null || fail "$python has no venv module: install python$version-venv (or your distribution's equivalent)"
fi
# The venv runs its base Python in place: the service's user must reach it, and the unit's ProtectHome= hides
# /home and /root from the service even when their modes would not.
base_python=$("$python" -c 'import os, sys; print(os.path.realpath(sys.executable))')
case "$base_python" in
    /home/*|/root/*|/run/user/*)
        if [ "$systemd" = yes ]; then
            fail "$python is $base_python, in a home folder, which the service cannot reach: use the system's Python (e.g. --python /usr/bin/python3)"
        fi ;;
esac

# --- the user --------------------------------------------------------------------------------------------------
if ! id "$user" >/dev/null 2>&1; then
    if [ -n "$root" ] || [ "$as_root" = no ]; then
        fail "user $user does not exist (with --root, create it first or pass --user)"
    fi
    useradd --system --home-dir /var/lib/mtbridge --no-create-home --shell /usr/sbin/nologin \
        --comment "mtbridge export bridge" "$user"
    say "created the system user $user"
fi
group=$(id -gn "$user")

# owned MODE OWNER:GROUP PATH... : chown only as root (a --root install by a plain user keeps its own files)
owned() {
    local mode=$1 owner=$2
    shift 2
    chmod "$mode" "$@"
    if [ "$as_root" = yes ]; then chown "$owner" "$@"; fi
}

# --- the venv and the package --------------------------------------------------------------------------------------
if [ -e "$venv/pyvenv.cfg" ] && ! "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "the venv in $venv no longer runs (its Python was upgraded or removed): making it anew"
    rm -rf "$venv"
fi
if [ ! -e "$venv/pyvenv.cfg" ]; then
    if [ -e "$venv" ] && [ -n "$(ls -A "$venv")" ]; then
        fail "$venv exists and is not a venv: choose another --prefix"
    fi
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv"
    say "created the venv $venv ($("$venv/bin/python" --version))"
fi

# toml_value FILE TABLE KEY: one value of the configuration, empty when the file or the key is not there.
toml_value() {
    "$venv/bin/python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb")).get(sys.argv[2], {}).get(sys.argv[3], ""))' \
        "$@" 2>/dev/null || true
}

# PyMySQL when asked, when the configuration's source reads a report database, or when an earlier run installed it.
if [ "$with_mysql" = no ] && [ -f "$config" ]; then
    kind=$(toml_value "$config" source kind)
    case "$kind" in mt5-sql-export|mt4-report-server) with_mysql=yes ;; esac
fi
if [ "$with_mysql" = no ] && "$venv/bin/python" -c 'import pymysql' 2>/dev/null; then
    with_mysql=yes
fi

# pip builds from a copy: building in the clone would leave build files in it, and the clone may be read-only.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/mtbridge"
(cd "$source_dir" && tar --exclude=__pycache__ -cf - pyproject.toml README.md mtbridge install/mtbridge_build.py) | tar -xf - -C "$work/mtbridge"
requirement=$work/mtbridge
pip_options=(--disable-pip-version-check --no-input --quiet)
with=""
if [ "$with_mysql" = yes ]; then
    requirement="${requirement}[mysql]"
    with=" with PyMySQL"
    if [ -n "$find_links" ]; then pip_options+=(--no-index --find-links "$find_links"); fi
else
    # Nothing to download: the package builds with the standard library alone (install/mtbridge_build.py).
    pip_options+=(--no-index)
fi
"$venv/bin/python" -m pip install "${pip_options[@]}" --upgrade "$requirement" \
    || fail "pip could not install mtbridge$with (without network, give --find-links DIR holding the PyMySQL wheel)"
version=$("$venv/bin/mtbridge" --version)
if [ "$as_root" = yes ] && [ -z "$root" ] && [ "$user" != root ] && command -v runuser >/dev/null \
    && ! runuser -u "$user" -- "$venv/bin/mtbridge" --version >/dev/null 2>&1; then
    fail "the user $user cannot run $venv/bin/mtbridge: $base_python and $venv must be readable by every user"
fi
say "installed $version in $venv$with"

# --- configuration, key, state ----------------------------------------------------------------------------------
mkdir -p "$config_dir" "$state_dir"
owned 0750 "root:$group" "$config_dir"
owned 0750 "$user:$group" "$state_dir"
if [ ! -e "$config" ]; then
    [ -n "$key_id" ] || key_id="mtbridge-$(hostname -s 2>/dev/null || echo host)"
    sed "s/^key_id = \"mtsync-1\"/key_id = \"$key_id\"/" "$source_dir/install/mtbridge.example.toml" > "$config.new"
    owned 0640 "root:$group" "$config.new"
    mv "$config.new" "$config"
    say "wrote the example configuration $config: edit it (server, source) before the service can start"
else
    say "kept the configuration $config"
fi
if [ ! -e "$key" ]; then
    (umask 077 && "$venv/bin/python" -c 'import secrets; print(secrets.token_hex(32))' > "$key.new")
    owned 0600 "$user:$group" "$key.new"
    mv "$key.new" "$key"
    key_id_now=$(toml_value "$config" auth key_id)
    cat <<EOF

A new shared key is in $key (mode 600). Give mtsync's operator, over a channel you trust, the key id and the key:
  key id: ${key_id_now:-(auth.key_id in $config)}
  key:    $(cat "$key")
They go into mtsync.yaml as servers[].bridge.key_id and into the file its key_file names (mode 600). This is the
only time the installer shows the key; it is never logged.

EOF
else
    say "kept the key $key"
fi

# --- the service ---------------------------------------------------------------------------------------------------
unit_text=$(sed -e "s#/opt/mtbridge/#$prefix/#g" -e "s#^User=mtbridge\$#User=$user#" -e "s#^Group=mtbridge\$#Group=$group#" \
    "$source_dir/install/mtbridge.service")
if [ "$systemd" = yes ] || [ -n "$root" ]; then
    mkdir -p "$(dirname "$unit")"
    printf '%s\n' "$unit_text" > "$unit.new"
    chmod 0644 "$unit.new"
    mv "$unit.new" "$unit"
    say "wrote $unit"
fi
if [ -n "$root" ]; then
    say "installed under $root: nothing checked or started (the configuration names the paths of the real host)"
    exit 0
fi

check() {  # as the service's user: the file modes and owners are part of what is checked
    if [ "$as_root" = yes ] && [ "$user" != root ] && command -v runuser >/dev/null; then
        runuser -u "$user" -- "$venv/bin/mtbridge" --config "$config" --check-config
    else
        "$venv/bin/mtbridge" --config "$config" --check-config
    fi
}
if [ "$systemd" = yes ]; then
    systemctl daemon-reload
    systemctl enable mtbridge.service >/dev/null 2>&1
    if check; then
        systemctl restart mtbridge.service
        say "mtbridge.service is enabled and (re)started: systemctl status mtbridge; journalctl -u mtbridge"
    else
        # Left as it is: a bridge already running keeps serving (with the code it loaded) while the source or the
        # file is put right.
        say "mtbridge.service is enabled but not (re)started: fix what the lines above say, then"
        say "  $venv/bin/mtbridge --config $config --check-config && systemctl restart mtbridge"
    fi
else
    if check; then
        say "the configuration checks out: start it with  $venv/bin/mtbridge --config $config"
    else
        say "fix $config (the lines above say what), then run  $venv/bin/mtbridge --config $config --check-config"
    fi
fi
