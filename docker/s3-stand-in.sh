#!/bin/sh
# Entrypoint of compose's s3 service: moto's S3 API server (moto_server), standing in for the bucket
# a team's MLflow keeps its artifacts in, with the bucket of MLFLOW_ARTIFACTS_DESTINATION created at
# start. moto keeps objects in memory: they are gone when this container stops. For artifacts that
# must last, point MLFLOW_ARTIFACTS_DESTINATION and MLFLOW_S3_ENDPOINT_URL in docker/.env at a real
# bucket (S3, MinIO, Ceph...) instead (docker/README.md, "Artifacts in a bucket").
set -eu
moto_server -H 0.0.0.0 -p 9000 &
server=$!
trap 'kill "$server"' INT TERM
python - <<'PYTHON'
import os
import time
from urllib.parse import urlsplit

import boto3

bucket = urlsplit(os.environ["MLFLOW_ARTIFACTS_DESTINATION"]).netloc
client = boto3.client("s3", endpoint_url="http://127.0.0.1:9000")
for _ in range(120):  # until moto answers
    try:
        client.create_bucket(Bucket=bucket)
        break
    except Exception:
        time.sleep(1)
else:
    raise SystemExit(f"s3-stand-in.sh: could not create the bucket {bucket}")
print(f"s3-stand-in.sh: bucket {bucket} ready", flush=True)
PYTHON
wait "$server"
