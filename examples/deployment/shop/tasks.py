from celery import shared_task


@shared_task(time_limit=2 * 60 * 60, soft_time_limit=110 * 60)
def export_orders():
    return "exported"


@shared_task
def send_receipt(order_id):
    return order_id


@shared_task
def refresh_prices():
    return "refreshed"
