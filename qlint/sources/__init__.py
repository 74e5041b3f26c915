"""One file to its facts, knowing nothing of the rest of the project: Python through CPython's
`ast` (libcst for what the running interpreter cannot parse) into the IR of ir.py, deployment
files (deploy/) and dependency files (dependencies/). Bad input becomes an error fact, never an
exception. Imports nothing of qlint but model."""
