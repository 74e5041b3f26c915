#!/bin/sh
# Used by the image: CONCURRENCY comes from the container's environment.
set -e
exec celery -A shop worker -Q "${QUEUES:-celery,mail,exports}" -c "${CONCURRENCY:-4}" --prefetch-multiplier=1
