#!/bin/sh
# Entrypoint of compose's one-shot "launch" service: join the Ray cluster as a node with no CPUs
# (a Ray driver must run on a node that has a raylet; trials never land here), run the launcher
# with every argument given, leave the cluster (ray stop acts inside this container only).
set -u
address=""
previous=""
for argument in "$@"; do
    if [ "$previous" = "--address" ]; then address="$argument"; fi
    previous="$argument"
done
if [ -z "$address" ]; then
    echo "launch.sh: pass --address HOST:PORT" >&2
    exit 2
fi
leave() { ray stop --force > /dev/null 2>&1 || true; }
trap leave EXIT
trap 'exit 130' INT TERM
sh "$(dirname "$0")/ray-start.sh" --address="$address" --num-cpus=0 --num-gpus=0 --disable-usage-stats || exit 1
python -m raysweep.launch "$@"
