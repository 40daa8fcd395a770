#!/usr/bin/env bash
# Stand-in base images for machines that cannot pull from Docker Hub, built from Debian packages.
#
#   docker/stand-in-images.sh            # prints PYTHON_IMAGE=... and POSTGRES_IMAGE=... (build or reuse)
#   docker/stand-in-images.sh --rebuild  # build again even if images with these tags exist
#
# The Dockerfiles and compose.yaml take their base images as variables (PYTHON_IMAGE,
# POSTGRES_IMAGE); pass the printed references instead of python:3.11-slim-bookworm and
# postgres:17-bookworm. tests/test_docker_stack.py does that when Docker Hub is unreachable.
#
# Each image is `debootstrap --variant=minbase bookworm` plus the packages that provide what the
# real image provides to this project, loaded with `docker import`:
#   python:   Debian's Python 3.11 as `python`, with venv and pip (what docker/Dockerfile uses)
#   postgres: Debian's PostgreSQL 15 behind the official image's interface: POSTGRES_USER,
#             POSTGRES_PASSWORD and POSTGRES_DB initialise an empty /var/lib/postgresql/data,
#             the server listens on every address with password authentication, and pg_isready
#             is on the PATH (compose.yaml's healthcheck). MLflow needs no PostgreSQL 17 feature.
# Both trust the certificate authorities this machine added (/usr/local/share/ca-certificates),
# so pip inside a build reaches the package index through the same TLS-inspecting egress as here.
#
# Tags carry a hash of everything that goes into an image (this script, the Debian mirror, the
# added certificates), so an existing image with the same tag was built from the same inputs and
# is reused: a changed script or a new certificate gives a new tag. Needs root, debootstrap and a
# reachable Debian mirror (DEBIAN_MIRROR, default: the first one apt uses here).
set -euo pipefail

rebuild=0
case "${1:-}" in
  --rebuild) rebuild=1 ;;
  "") ;;
  *) echo "usage: $0 [--rebuild]" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then echo "$0: debootstrap needs root" >&2; exit 2; fi
command -v debootstrap >/dev/null || { echo "$0: apt-get install debootstrap" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "$0: no Docker engine reachable" >&2; exit 2; }

suite=bookworm
default_mirror=$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror="${DEBIAN_MIRROR:-${default_mirror:-http://deb.debian.org/debian}}"
extra_certificates=(/usr/local/share/ca-certificates/*.crt)
[ -e "${extra_certificates[0]}" ] || extra_certificates=()

inputs_hash=$(
  {
    cat "$0"
    echo "$mirror $suite"
    for certificate in "${extra_certificates[@]}"; do cat "$certificate"; done
  } | sha256sum | cut -c1-12
)
python_image="raysweep-stand-in/python:3.11-slim-bookworm-$inputs_hash"
postgres_image="raysweep-stand-in/postgres:17-bookworm-$inputs_hash"

work=$(mktemp -d /var/tmp/raysweep-stand-in.XXXXXX)
cleanup() {
  # debootstrap may leave /proc and /sys mounted in the root filesystem when it fails.
  for mount in $(awk -v root="$work" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$mount" || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# Debian packages downloaded once for both images.
mkdir -p "$work/debs"

# bootstrap ROOT PACKAGES: a minimal bookworm root filesystem with PACKAGES and this machine's
# extra certificate authorities.
bootstrap() {
  local root="$1" packages="$2"
  debootstrap --variant=minbase --cache-dir="$work/debs" --include="ca-certificates,$packages" \
    "$suite" "$root" "$mirror" > "$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; return 1; }
  if [ ${#extra_certificates[@]} -gt 0 ]; then
    cp "${extra_certificates[@]}" "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates > /dev/null 2>&1
  fi
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
}

# import ROOT TAG CHANGES...: the root filesystem as an image.
import() {
  local root="$1" tag="$2"
  shift 2
  local changes=()
  for change in "$@"; do changes+=(--change "$change"); done
  tar --numeric-owner -C "$root" -c . | docker import "${changes[@]}" - "$tag" > /dev/null
}

if [ "$rebuild" = 1 ] || ! docker image inspect "$python_image" >/dev/null 2>&1; then
  root="$work/python"
  bootstrap "$root" python3,python3-venv,python-is-python3,passwd
  # pip reads this config: the system bundle, which now holds the extra certificates too.
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$root/etc/pip.conf"
  import "$root" "$python_image" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LANG=C.UTF-8' \
    'CMD ["python3"]'
  rm -rf --one-file-system "$root"
fi

if [ "$rebuild" = 1 ] || ! docker image inspect "$postgres_image" >/dev/null 2>&1; then
  root="$work/postgres"
  bootstrap "$root" postgresql-15,util-linux
  # postgresql-common's installer creates a cluster "main"; the entrypoint makes its own.
  rm -rf "$root"/var/lib/postgresql/15 "$root"/etc/postgresql/15
  cat > "$root/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
# The official postgres image's contract, for this project's use: initialise an empty data
# directory from POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB, then run the server as postgres.
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export POSTGRES_USER POSTGRES_DB PGDATA
if [ "${1:-}" != postgres ]; then exec "$@"; fi
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password_file=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$password_file" --encoding=UTF8 \
    --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 > /dev/null
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start > /dev/null
    psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -q -c "CREATE DATABASE \"$POSTGRES_DB\""
    pg_ctl -D "$PGDATA" -m fast -w stop > /dev/null
  fi
fi
shift
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
ENTRYPOINT
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  import "$root" "$postgres_image" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/lib/postgresql/15/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LANG=C.UTF-8' \
    'ENV PGDATA=/var/lib/postgresql/data' \
    'ENTRYPOINT ["docker-entrypoint.sh"]' \
    'CMD ["postgres"]' \
    'EXPOSE 5432'
  rm -rf --one-file-system "$root"
fi

echo "PYTHON_IMAGE=$python_image"
echo "POSTGRES_IMAGE=$postgres_image"
