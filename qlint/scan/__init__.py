"""From paths to per-file facts: which files a check reads (discovery), which of them can
matter (the pre-filter on bytes), reading deployment and dependency files, and the caches
that let an unchanged file or tree skip all of it (facts, whole runs, and the safe store both
use).

May import model, catalog, sources, resolve (for module names and the environment) and
user_config; never semantics, rules, the pipeline, reports, the command line, the language
server or the worker."""
