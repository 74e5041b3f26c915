from django.core.files.storage import default_storage
from django.http import JsonResponse

from .tasks import parse_upload


def upload(request):
    uploaded = request.FILES["file"]
    stored_path = default_storage.save(f"uploads/{uploaded.name}", uploaded)
    parse_upload.delay(stored_path, uploaded.name)
    return JsonResponse({"status": "queued"})
