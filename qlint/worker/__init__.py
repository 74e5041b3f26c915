"""The reference worker: Celery's delivery semantics, replayed in virtual or real time, from a
scenario or from a project's resolved settings (through the pipeline). Never imports the
command line or the language server; the engine reaches its workers, and they it, only through
the protocols of worker.py."""
from .replay import simulate
from .scenario import Prepared, Scenario, ScenarioError, load_scenario, parse_scenario, prepare_scenario
from .trace import Trace

__all__ = ["Prepared", "Scenario", "ScenarioError", "Trace", "load_scenario", "parse_scenario",
           "prepare_scenario", "simulate"]
