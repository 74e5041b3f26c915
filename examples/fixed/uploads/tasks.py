from celery import chain, shared_task


@shared_task
def build_report(upload_id):
    """Crunches one upload into a report: takes two to twenty hours."""
    return {"upload_id": upload_id, "rows": 0}


@shared_task
def parse_upload(stored_path, filename):
    with open(stored_path, "rb") as handle:
        return {"filename": filename, "size": len(handle.read())}


@shared_task
def notify_owner(upload_id):
    return upload_id


def build_and_notify(upload_id):
    # An immutable signature: notify_owner gets only its own arguments.
    return chain(build_report.s(upload_id), notify_owner.si(upload_id)).apply_async()
