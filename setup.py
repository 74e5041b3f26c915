# The rules live in rules/ at the top of the repository (one module per rule) and
# are installed as the subpackage qlint.rules; pyproject.toml cannot express a
# discovered package tree plus one remapped folder, so this file adds it.
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["qlint", "qlint.*"]) + ["qlint.rules"],
    package_dir={"qlint.rules": "rules"},
)
