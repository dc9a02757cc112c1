#!/usr/bin/env bash
# Installs Tourniquet's login hook on this instance: the script, its skip list, and the PAM
# line in sshd's stack. Safe to run again. Run as root; DESTDIR installs under another root.
#
#   sudo host/install.sh [--skip-user NAME]...
#
# The instance role needs the stack's TaintSelfPolicy output attached, and the AWS CLI and
# curl must be installed.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${DESTDIR:-}
hook=/usr/local/sbin/tourniquet-taint
skip_file=/etc/tourniquet/skip-users
pam_file=/etc/pam.d/sshd
pam_line="session optional pam_exec.so quiet $hook"

skip_users=()
while [ $# -gt 0 ]; do
  case $1 in
    --skip-user) skip_users+=("${2:?--skip-user needs a name}"); shift 2 ;;
    *) echo "usage: $0 [--skip-user NAME]..." >&2; exit 2 ;;
  esac
done

install -d -m 0755 "$root/usr/local/sbin" "$root/etc/tourniquet"
install -m 0755 "$here/tourniquet-taint" "$root$hook"
if [ ! -e "$root$skip_file" ]; then
  printf '# Users whose SSH logins do not taint this instance, one per line.\n' >"$root$skip_file"
  chmod 0644 "$root$skip_file"
fi
# ${a[@]+...}: an empty list under `set -u` on bash 4.2 (Amazon Linux 2).
for user in ${skip_users[@]+"${skip_users[@]}"}; do
  grep -qxF "$user" "$root$skip_file" || printf '%s\n' "$user" >>"$root$skip_file"
done
# Never create sshd's PAM file: a stack with only this line would deny every login (some
# distributions keep the vendor stack elsewhere, /usr/lib/pam.d).
if [ ! -f "$root$pam_file" ]; then
  echo "$root$pam_file does not exist: add this line to sshd's PAM stack by hand:" >&2
  echo "  $pam_line" >&2
  exit 1
fi
if ! grep -qxF "$pam_line" "$root$pam_file"; then
  # optional: a failure of the hook never denies a session. A last line without its newline
  # is ended first, so that the two are not glued together.
  [ -s "$root$pam_file" ] && [ -n "$(tail -c1 "$root$pam_file")" ] && printf '\n' >>"$root$pam_file"
  printf '%s\n' "$pam_line" >>"$root$pam_file"
fi
echo "installed $hook; PAM: $pam_file; logins not counted: $skip_file"
