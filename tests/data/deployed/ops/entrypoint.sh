#!/bin/bash
set -euo pipefail
: "${CELERY_CONCURRENCY:=2}"
QUEUE_LIST="${WORKER_QUEUES:-reports,mail}"
if [ "$1" = "worker" ]; then
  exec celery -A proj worker -Q "$QUEUE_LIST" -c "$CELERY_CONCURRENCY" --prefetch-multiplier="${PREFETCH:-1}" -E
elif [ "$1" = "beat" ]; then
  exec celery -A proj beat
fi
