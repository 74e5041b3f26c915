from django.http import JsonResponse

from .tasks import parse_upload


def upload(request):
    uploaded = request.FILES["file"]
    content = uploaded.read()
    parse_upload.delay(content, uploaded.name)
    return JsonResponse({"status": "queued"})
