#!/usr/bin/env bash
# Install the real syslog receivers used by the integration tests (Debian 12, run as root).
#
#  * rsyslog 8.2302 + liblognorm (mmnormalize) + the gtls/ossl TLS stream drivers + imrelp
#    (RELP input, librelp) + openssl, installed with apt. The package's init script is NOT
#    started (policy-rc.d), so no system rsyslogd is left running by this script.
#  * syslog-ng 3.38, which conflicts with rsyslog as a Debian package: its .deb and the libraries
#    it needs that are not installed are fetched with `apt-get download` and unpacked with
#    `dpkg -x` into $SIEMFWD_RECEIVERS_DIR/syslog-ng (default: <repo>/target/receivers/syslog-ng).
#    Run it through the wrapper $SIEMFWD_RECEIVERS_DIR/syslog-ng/bin/syslog-ng (sets
#    LD_LIBRARY_PATH and --module-path). The binary's compiled-in include path (/etc/syslog-ng)
#    does not hold scl.conf, so a config that does `@include "scl.conf"` must first say
#      @define include-path "<value of syslog-ng/include-path>"
#    (the file syslog-ng/include-path holds that value).
#
# Idempotent: does nothing that is already done. Network: Debian package mirrors only.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECEIVERS_DIR="${SIEMFWD_RECEIVERS_DIR:-$REPO_ROOT/target/receivers}"
SNG_DIR="$RECEIVERS_DIR/syslog-ng"
SNG_VERSION="3.38"
export DEBIAN_FRONTEND=noninteractive

log() { printf 'install-receivers: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log "must run as root"
  exit 1
fi

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
}

# ---------------------------------------------------------------- rsyslog (apt) ----
# rsyslog-gnutls / rsyslog-openssl: the gtls and ossl TLS stream drivers (lmnsd_gtls/ossl.so).
# systemd: `systemd-analyze verify` checks the shipped unit (tests/it/systemd_unit.rs).
# prometheus: a real Prometheus server (and promtool) scrapes the admin listener in
# tests/it/admin.rs; the tests start their own on a free port, never the system service.
# man-db: `man -l` renders `siemfwd man` (tests/it/first_hour.rs).
# rsyslog-relp / librelp0: imrelp (rsyslog's RELP input, plain and TLS) as the receiver of the
# RELP output's tests (issue 20); librelp0 is the RELP library imrelp.so links against.
APT_PKGS=(rsyslog rsyslog-gnutls rsyslog-openssl rsyslog-relp librelp0 liblognorm5 openssl systemd
          prometheus man-db)
missing=()
for p in "${APT_PKGS[@]}"; do is_installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_update_once
  # Keep the maintainer scripts from starting a system rsyslogd (containers have no systemd,
  # and invoke-rc.d would otherwise run /etc/init.d/rsyslog start).
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap '[ "$created_policy" -eq 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  log "apt-get install ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$created_policy" -eq 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  trap - EXIT
else
  log "rsyslog packages already installed"
fi

RSYSLOG_MODDIR="$(dirname "$(dpkg -L rsyslog | awk '/\/rsyslog\/imtcp\.so$/ && !f { print; f = 1 }')")"
for m in imtcp imudp imrelp mmnormalize lmnsd_gtls lmnsd_ossl; do
  if [ ! -e "$RSYSLOG_MODDIR/$m.so" ]; then
    log "missing rsyslog module $RSYSLOG_MODDIR/$m.so"
    exit 1
  fi
done
/usr/sbin/rsyslogd -v | sed -n 1p >&2
if command -v pgrep >/dev/null && pid="$(pgrep -x rsyslogd)"; then
  # Not started by this script (see policy-rc.d above); it does not bind the tests' ports.
  log "note: an rsyslogd is running (pid(s) $(echo "$pid" | tr '\n' ' ')); tests do not use it"
fi

# ------------------------------------------------------- syslog-ng (unpacked) ----
sng_ok() {
  [ -x "$SNG_DIR/bin/syslog-ng" ] && "$SNG_DIR/bin/syslog-ng" --version 2>/dev/null | grep "^syslog-ng 3 (${SNG_VERSION}\." >/dev/null
}

if sng_ok; then
  log "syslog-ng already unpacked in $SNG_DIR"
else
  apt_update_once
  # syslog-ng-core plus every library it (transitively) depends on that is not installed.
  # Only the first alternative of each dependency is followed; non-library dependencies
  # (sysvinit-utils | lsb-base, ...) are not needed to run the daemon from a folder.
  declare -A seen=()
  queue=(syslog-ng-core)
  download=()
  while [ "${#queue[@]}" -gt 0 ]; do
    pkg="${queue[0]}"
    queue=("${queue[@]:1}")
    [ -n "${seen[$pkg]:-}" ] && continue
    seen[$pkg]=1
    if [ "$pkg" != syslog-ng-core ] && is_installed "$pkg"; then continue; fi
    download+=("$pkg")
    while read -r dep; do
      case "$dep" in
        lib*) queue+=("$dep") ;;
      esac
    done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
               --no-replaces --no-enhances "$pkg" 2>/dev/null \
             | awk '/^ [ |]Depends: [^<]/ { print $2 }' | sed 's/:any$//' | sort -u)
  done
  log "downloading ${download[*]}"
  debdir="$RECEIVERS_DIR/debs"
  rm -rf "$SNG_DIR"
  mkdir -p "$debdir" "$SNG_DIR/root" "$SNG_DIR/bin"
  (cd "$debdir" && rm -f ./*.deb && apt-get download -qq -o APT::Sandbox::User=root "${download[@]}")
  for deb in "$debdir"/*.deb; do
    dpkg -x "$deb" "$SNG_DIR/root"
  done
  rm -rf "$debdir"
  ROOT="$SNG_DIR/root"
  # Library dirs of the unpacked packages (multiarch dirs and syslog-ng's private lib dir),
  # relative to ROOT; the module dir itself is passed with --module-path.
  libdirs="$(cd "$ROOT" && find . -name '*.so*' ! -path "./usr/lib/syslog-ng/${SNG_VERSION}/*" \
               -printf '%h\n' | sed 's#^\./##' | sort -u)"
  ld_path=""
  for d in $libdirs; do ld_path="${ld_path:+$ld_path:}\$ROOT/$d"; done
  cat > "$SNG_DIR/bin/syslog-ng" <<WRAP
#!/bin/sh
# Runs the unpacked syslog-ng ${SNG_VERSION} (generated by scripts/install-receivers.sh).
ROOT="\$(cd "\$(dirname "\$0")/../root" && pwd)"
LD_LIBRARY_PATH="${ld_path}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
exec "\$ROOT/usr/sbin/syslog-ng" --module-path="\$ROOT/usr/lib/syslog-ng/${SNG_VERSION}" "\$@"
WRAP
  chmod 755 "$SNG_DIR/bin/syslog-ng"
  printf '%s\n' "$ROOT/etc/syslog-ng:$ROOT/usr/share/syslog-ng/include" > "$SNG_DIR/include-path"
  if ! sng_ok; then
    log "syslog-ng from $SNG_DIR does not run:"
    "$SNG_DIR/bin/syslog-ng" --version >&2 || true
    exit 1
  fi
fi
"$SNG_DIR/bin/syslog-ng" --version | sed -n 1p >&2
log "ok: rsyslogd=/usr/sbin/rsyslogd syslog-ng=$SNG_DIR/bin/syslog-ng"
