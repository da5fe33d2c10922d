#!/usr/bin/env bash
# timeout: 60
#
# dists.t - the Red Hat family's shipped distribution definitions
# (templates/dist/*.conf with family = redhat) against the trees they
# name.  No mirror is reachable from here, so what is checked is what
# vm-provision makes of each definition: `vm-provision --dist NAME
# --hostname t1 --dry-run' must succeed without a message, and the plan's
# install line must name every repository of the definition, in order,
# as `repository NAME URL', with a URL fully substituted, ending in `/',
# of the shape of the real tree (CentOS 7's vault, Rocky's, AlmaLinux's
# and Fedora's layouts), and a mirror list, where the definition has
# one, as `(mirrorlist URL first)' with the real service's host and
# query shape.  With --mirror http://example.test/x every repository is
# that mirror and the same path, and no mirror list is used.  The
# definitions' other values are checked against what each release needs
# (network style, password hash, signing key, kernel package, console).
#
# A redhat definition this test has no expectations for fails: adding a
# definition means adding its tree's shape here.  Runs bin/vm-provision
# from the source tree with every vmkit root in a temporary tree.  Run
# from the top of the tree, after make.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/lib/tap.sh
. tests/lib/tap.sh
# check STATUS DESCRIPTION: ok, and STATUS again (for `|| diagnostics')
check() { ok "$1" "$2"; return "$1"; }

P=bin/vm-provision
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dists.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
tree=$tmp/tree
mkdir -p "$tree/etc" "$tree/lib" "$tree/cache" "$tree/run" "$tree/log" "$tmp/apt/etc"
export VMKIT_CONFDIR=$tree/etc VMKIT_LIBDIR=$tree/lib VMKIT_CACHEDIR=$tree/cache \
    VMKIT_RUNDIR=$tree/run VMKIT_LOGDIR=$tree/log VMKIT_APT_ROOT=$tmp/apt
unset VMKIT_DATADIR
printf 'ID=debian\nVERSION_CODENAME=bookworm\n' > "$tmp/apt/etc/os-release"

[ -x "$P" ]; check $? "bin/vm-provision is built" || { done_testing; exit; }

# ---- what each tree looks like ------------------------------------------
# url[NAME:REPO] and ml[NAME:REPO]: the regular expressions (ERE) its
# URL and mirror list must match; ml unset: it must have none; ml `any':
# it may have one, of mlshape[NAME].  need[NAME]: the repositories it
# must have (it may have more, each then with a url entry).
declare -A url ml need mlshape
h='https?://[^/?#]+'
x=x86_64

url[centos7:os]="^$h/centos/7\\.9\\.2009/os/$x/\$"
url[centos7:updates]="^$h/centos/7\\.9\\.2009/updates/$x/\$"
url[centos7:extras]="^$h/centos/7\\.9\\.2009/extras/$x/\$"
need[centos7]="os updates"

for v in 8 9; do
    for r in BaseOS AppStream extras; do
        url[rocky$v:$r]="^$h(/pub)?/rocky/$v/$r/$x/os/\$"
        ml[rocky$v:$r]="^https://mirrors\\.rockylinux\\.org/mirrorlist\\?arch=$x&repo=$r-$v\$"
    done
    need[rocky$v]="BaseOS AppStream"
done

for r in BaseOS AppStream extras; do
    url[alma9:$r]="^$h/almalinux/9/$r/$x/os/\$"
    lower=$(echo "$r" | tr '[:upper:]' '[:lower:]')
    ml[alma9:$r]="^https://mirrors\\.almalinux\\.org/mirrorlist/9/$lower\$"
done
need[alma9]="BaseOS AppStream"

# Fedora 40 is archived: its tree is under /pub/archive/fedora/linux now,
# /pub/fedora/linux while a release is supported; a mirror list, if the
# definition has one, is MirrorManager's.
url[fedora40:fedora]="^$h(/pub(/archive)?)?/fedora/linux/releases/40/Everything/$x/os/\$"
url[fedora40:updates]="^$h(/pub(/archive)?)?/fedora/linux/updates/40/Everything/$x/\$"
ml[fedora40:fedora]=any
ml[fedora40:updates]=any
mlshape[fedora40]="^https://mirrors\\.fedoraproject\\.org/mirrorlist\\?repo=(fedora|updates-released-f)40&arch=$x\$"
need[fedora40]="fedora updates"

# what the definitions must say besides
declare -A style kpkg key
style[centos7]=ifcfg style[rocky8]=ifcfg style[rocky9]=nm-keyfile style[alma9]=nm-keyfile
style[fedora40]=nm-keyfile
kpkg[centos7]=kernel kpkg[rocky8]=kernel-core kpkg[rocky9]=kernel-core kpkg[alma9]=kernel-core
kpkg[fedora40]=kernel-core
key[centos7]=RPM-GPG-KEY-CentOS-7 key[rocky8]=RPM-GPG-KEY-rockyofficial
key[rocky9]=RPM-GPG-KEY-Rocky-9 key[alma9]=RPM-GPG-KEY-AlmaLinux-9
key[fedora40]=RPM-GPG-KEY-fedora-40-x86_64

# ---- helpers ---------------------------------------------------------------

# get FILE KEY: KEY's value in the definition (the last one)
get() {
    sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*//p" "$1" | tail -n 1 |
        sed 's/[[:space:]]\{1,\}#.*//; s/[[:space:]]*$//'
}
# run ARGS...: runs vm-provision; rc, $tmp/out, $tmp/err
run() {
    "$P" "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
}
show() { { echo "exit $rc"; cat "$tmp/err"; head -n 12 "$tmp/out"; } | diag; }
# repos: the plan's repositories, one a line: NAME URL [MIRRORLIST]
repos() {
    grep '^install: ' "$tmp/out" | sed 's/; /\n/g' |
        sed -n 's/^repository \([^ ]*\) \([^ ]*\)\( (mirrorlist \([^ ]*\) first)\)\{0,1\}$/\1 \2 \4/p' |
        sed 's/ $//'
}

# ---- each definition -------------------------------------------------------

dists=
for f in templates/dist/*.conf; do
    [ "$(get "$f" family)" = redhat ] && dists="$dists $(basename "$f" .conf)"
done
[ -n "$dists" ]; check $? "there are redhat definitions:$dists"
for want in centos7 rocky8 rocky9 alma9 fedora40; do
    case " $dists " in
    *" $want "*) ok 0 "templates/dist/$want.conf is shipped" ;;
    *) ok 1 "templates/dist/$want.conf is shipped" ;;
    esac
done

for d in $dists; do
    f=templates/dist/$d.conf
    if [ -z "${need[$d]:-}" ]; then
        ok 1 "$d: this test knows the shape of its tree (add it)"
        continue
    fi

    # the definition itself
    [ "$(get "$f" network-style)" = "${style[$d]}" ]
    check $? "$d: network-style ${style[$d]}" || get "$f" network-style | diag
    [ "$(get "$f" kernel-package)" = "${kpkg[$d]}" ] && [ "$(get "$f" console)" = hvc0 ] &&
        [ "$(get "$f" password-hash)" = sha512 ] && [ "$(get "$f" architectures)" = x86_64 ]
    check $? "$d: kernel-package ${kpkg[$d]}, console hvc0, password-hash sha512, x86_64"
    [ "$(get "$f" gpgkey)" = "file:///etc/pki/rpm-gpg/${key[$d]}" ]
    check $? "$d: gpgkey file:///etc/pki/rpm-gpg/${key[$d]}" || get "$f" gpgkey | diag
    pk=" $(get "$f" packages) "
    miss=
    for p in filesystem setup rpm bash systemd openssh-server dracut passwd; do
        case $pk in *" $p "*) ;; *) miss="$miss $p" ;; esac
    done
    case $pk in *" ${kpkg[$d]} "*) miss="$miss (the kernel is in packages)" ;; esac
    [ -z "$miss" ]
    check $? "$d: packages hold the base of a bootable, ssh-able guest" || echo "missing:$miss" | diag

    # the plan
    run --dist "$d" --hostname t1 --dry-run
    [ "$rc" -eq 0 ] && ! [ -s "$tmp/err" ]
    check $? "$d: vm-provision --dist $d --dry-run exits 0 without messages" || { show; continue; }
    repos > "$tmp/repos"
    names=$(cut -d' ' -f1 "$tmp/repos" | tr '\n' ' ')
    defnames=$(get "$f" repositories | tr -s ' \t' '\n' | sed 's/=.*//' | grep . | tr '\n' ' ')
    [ -n "$names" ] && [ "$names" = "$defnames" ]
    check $? "$d: the install line names the definition's repositories, in order ($names)" ||
        { grep '^install: ' "$tmp/out" | diag; }
    for r in ${need[$d]}; do
        grep -q "^$r " "$tmp/repos"
        check $? "$d: repository $r is there"
    done
    mirror=$(get "$f" mirror)
    while read -r name u m; do
        re=${url[$d:$name]:-}
        if [ -z "$re" ]; then
            ok 1 "$d: repository $name: this test knows its tree's shape (add it)"
            continue
        fi
        [[ $u =~ $re ]] && [[ $u != *'$'* ]] && [[ $u == "${mirror%/}/"* ]]
        check $? "$d: repository $name: $u (below the definition's mirror)" || echo "want /$re/" | diag
        mre=${ml[$d:$name]:-}
        if [ "$mre" = any ]; then
            mre=${mlshape[$d]}
            [ -z "$m" ] || [[ $m =~ $mre ]]
            check $? "$d: repository $name: ${m:-no mirror list}" || echo "want /$mre/" | diag
        elif [ -n "$mre" ]; then
            [[ $m =~ $mre ]]
            check $? "$d: repository $name: mirror list ${m:-(none)}" || echo "want /$mre/" | diag
        else
            [ -z "$m" ]
            check $? "$d: repository $name: no mirror list" || echo "got $m" | diag
        fi
        echo "$name ${u#"${mirror%/}/"}" >> "$tmp/paths.$d"
    done < "$tmp/repos"

    # --mirror replaces the base and drops the mirror lists
    run --dist "$d" --hostname t1 --dry-run --mirror http://example.test/x
    [ "$rc" -eq 0 ]
    check $? "$d: --mirror http://example.test/x: exits 0" || { show; continue; }
    repos > "$tmp/repos.m"
    awk '{ print $1, $2 }' "$tmp/repos.m" | sed 's@ http://example\.test/x/@ @' > "$tmp/paths.m"
    [ -s "$tmp/paths.m" ] && cmp -s "$tmp/paths.$d" "$tmp/paths.m" &&
        ! grep -qv ' http://example\.test/x/' "$tmp/repos.m"
    check $? "$d: --mirror: every repository is http://example.test/x/ and the same path" ||
        { diff "$tmp/paths.$d" "$tmp/paths.m" | diag; diag < "$tmp/repos.m"; }
    ! grep '^install: ' "$tmp/out" | grep -q 'mirrorlist'
    check $? "$d: --mirror: no mirror list is used" || { grep '^install: ' "$tmp/out" | diag; }
done

done_testing
