#!/bin/sh
set -e

: "${CELERY_LOGLEVEL:=info}"
export CELERY_CONCURRENCY=${CELERY_CONCURRENCY:-3}
QUEUES="default,reports"

case "$1" in
  worker)
    exec celery -A shop worker -l "$CELERY_LOGLEVEL" -c "$CELERY_CONCURRENCY" -Q "$QUEUES" --statedb=${STATE_DB}
    ;;
  beat)
    exec celery -A shop beat -l "$CELERY_LOGLEVEL"
    ;;
  *)
    exec "$@"
    ;;
esac
