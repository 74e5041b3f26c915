"""The reference worker: Celery's delivery semantics, replayed in virtual or real time."""
from .replay import simulate
from .scenario import Prepared, Scenario, ScenarioError, load_scenario, parse_scenario, prepare_scenario
from .trace import Trace

__all__ = ["Prepared", "Scenario", "ScenarioError", "Trace", "load_scenario", "parse_scenario",
           "prepare_scenario", "simulate"]
