"""qlint: finds Celery configurations and task code that break with long-running tasks."""

__version__ = "0.1.0"

# The name qlint is published under on the package index (the name `qlint` there belongs to an
# unrelated project); the command and the import package are `qlint`.
DISTRIBUTION = "celery-qlint"
