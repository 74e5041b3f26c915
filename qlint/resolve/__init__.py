"""From facts to the resolved project: the interpreter runs each module's statements without
importing it (interpreter.py and evaluate.py, which meet the workspace and the framework readers
only through host.py), and the project is built from what it recorded: apps with effective
settings and their origins (project.py, resolved.py), tasks, the deployment's workers, routing,
brokers and the Celery releases the project installs. May import model, catalog and sources."""
