from celery import shared_task
from .celery import app


@shared_task
def build_report(day):
    return day


@shared_task
def send_mail(to):
    return to


@shared_task
def resize(path):
    return path


def later(task_id):
    send_mail.apply_async(("x",), countdown=7200)
    app.control.revoke(task_id)


def nightly(days, paths):
    for day in days:
        build_report.delay(day)
    for path in paths:
        resize.delay(path)
