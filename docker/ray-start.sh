#!/bin/sh
# `ray start` with Ray's object store sized to this container's /dev/shm, for every Ray node of
# compose.yaml (head, workers, the launcher's node): one variable, RAY_SHM_SIZE, sets compose's
# shm_size, and the store takes 90% of it. Without --object-store-memory, Ray may size the store
# from the container's RAM (30%), and a store larger than /dev/shm falls back to files on disk
# ("The object store is using /tmp instead of /dev/shm ... This will harm performance"). The other
# 10% of /dev/shm is room for what else maps shared memory (Python multiprocessing, torch).
# Usage: sh docker/ray-start.sh [ray start arguments...]
set -eu
shm_bytes=$(df -P -B1 /dev/shm | awk 'NR == 2 {print $2}')
case "$shm_bytes" in
    '' | *[!0-9]*) echo "ray-start.sh: cannot read the size of /dev/shm" >&2; exit 1 ;;
esac
exec ray start --object-store-memory="$((shm_bytes / 10 * 9))" "$@"
