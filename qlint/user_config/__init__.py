"""The user's configuration of qlint itself: [tool.qlint] or .qlint.toml (rule selection,
excludes, per-file ignores, thresholds) and suppression comments in checked files.

May import model, catalog, semantics (durations) and rules (to check codes and to report
unused suppressions); never the pipeline, reports, the command line, the language server or
the worker."""
