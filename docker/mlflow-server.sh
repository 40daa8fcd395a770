#!/bin/sh
# Entrypoint of compose's mlflow service: `mlflow server --app-name basic-auth` with every argument
# given. The auth app keeps its users and permissions in the same PostgreSQL database as the runs,
# but reads that database's URI (which holds the password) only from its config file
# (MLFLOW_AUTH_CONFIG_PATH), so the file is written here, at each start, from the environment that
# compose fills from docker/.env: readable by this user only, inside the container, never in the
# image or a volume. The admin's password MLflow reads itself from MLFLOW_AUTH_ADMIN_PASSWORD.
# Usage: sh docker/mlflow-server.sh [mlflow server arguments...]
set -eu
: "${MLFLOW_AUTH_DATABASE_URI:?set by compose.yaml from POSTGRES_* in docker/.env}"
umask 077
config="$(mktemp -d)/basic_auth.ini"
cat > "$config" <<CONFIG
[mlflow]
default_permission = ${MLFLOW_AUTH_DEFAULT_PERMISSION:-READ}
database_uri = ${MLFLOW_AUTH_DATABASE_URI}
admin_username = ${MLFLOW_AUTH_ADMIN_USERNAME:-admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
CONFIG
export MLFLOW_AUTH_CONFIG_PATH="$config"
exec mlflow server --app-name basic-auth "$@"
