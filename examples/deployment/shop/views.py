from shop.tasks import export_orders


def export_now(request):
    # Staff can start an export at any time, on top of the nightly one.
    export_orders.delay()
