"""Deployment files: celery command lines, environment variables and settings files.

``read_deploy_file(path, text)`` reads one file into ``DeployFacts`` (see facts.py for
how alternatives and co-deployed processes are told apart); ``classify_path(path,
head)`` says cheaply which kind of deployment file a path is;
``parse_command_line(argv, env)`` parses a celery command line on its own.
"""
from qlint.sources.deploy.command_line import parse_command_line, rebind
from qlint.sources.deploy.discover import classify_path, read_deploy_bytes, read_deploy_file
from qlint.sources.deploy.facts import (
    CeleryCommand, DeployFacts, Deployment, EnvVar, OptionValue, Process, SettingEntry,
)

__all__ = [
    "CeleryCommand", "DeployFacts", "Deployment", "EnvVar", "OptionValue", "Process", "SettingEntry",
    "classify_path", "parse_command_line", "read_deploy_bytes", "read_deploy_file", "rebind",
]
