"""Deployment files: celery command lines, environment variables and settings files.

``read_deploy_file(path, text)`` reads one file into ``DeployFacts``;
``classify_path(path, head)`` says cheaply which kind of deployment file a path is.
"""
