"""qlint: finds Celery configurations and task code that break with long-running tasks."""

__version__ = "0.1.0"
