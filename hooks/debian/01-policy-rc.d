#!/bin/sh
# 01-policy-rc.d ROOT - keeps daemons from starting while the guest is
# built: writes ROOT/usr/sbin/policy-rc.d (exit 101: "action forbidden"),
# which invoke-rc.d and deb-systemd-invoke consult, so that a package a
# later hook installs does not start its service on the host.  The file
# carries a marker line; 99-policy-rc.d-remove removes it only when the
# marker is there.  A policy-rc.d of the guest's own (no marker) is left
# as it is.
#
# Reads no VMKIT_* variable.
set -eu
root=${1:?usage: 01-policy-rc.d ROOT}
prog=01-policy-rc.d
marker='# vmkit: hook 01-policy-rc.d, removed by 99-policy-rc.d-remove'
umask 022

f=$root/usr/sbin/policy-rc.d
if [ -e "$f" ] || [ -L "$f" ]; then
    if ! grep -qxF "$marker" "$f" 2>/dev/null; then
        echo "$prog: /usr/sbin/policy-rc.d is the guest's own: left as it is" >&2
        exit 0
    fi
fi
mkdir -p "$root/usr/sbin"
rm -f "$f.vmkit-new"
printf '#!/bin/sh\n%s\n# Starting daemons is forbidden while vm-provision builds the guest.\nexit 101\n' \
    "$marker" > "$f.vmkit-new"
chmod 755 "$f.vmkit-new"
mv -f "$f.vmkit-new" "$f"
