"""Running a check: analysis takes paths to a resolved project (scan, then resolve), the
engine runs the selected rules on it, keeps the findings that concern the asked files and
applies suppressions; result.py holds what a check answers (the run cache stores it, so it
imports nothing of the analysis). fingerprint.py names each finding by its own code, for the
baseline (baseline.py: findings accepted for now, left out of a check) and the machine
reports. The command line, the language server and the worker start here.

May import every stage below it; never reports, the command line, the language server or the
worker."""
