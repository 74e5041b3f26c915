# The rules live in rules/ at the top of the repository (one module per rule) and
# are installed as the subpackage qlint.rules; their pages, generated into docs/rules/,
# are installed beside them as qlint/docs/rules/ (qlint/report/pages.py finds them there).
# pyproject.toml cannot express a discovered package tree plus remapped folders, so this
# file adds them.
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["qlint", "qlint.*"]) + ["qlint.rules", "qlint.docs"],
    package_dir={"qlint.rules": "rules", "qlint.docs": "docs"},
)
