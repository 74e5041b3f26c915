"""What Celery (and Django, for transactions) does with the project's code, as the rules share
it: where tasks are called and with what, canvases, what an argument carries and whether
kombu can encode it, revokes, signal receivers, durations, and how a setting's delivery,
routing, serialization and spelling work out across brokers and releases.

May import model, catalog, sources and resolve; never rules, user_config, the pipeline,
reports, the command line, the language server or the worker."""
