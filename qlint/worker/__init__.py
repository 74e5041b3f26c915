"""The reference worker: Celery's delivery semantics, replayed in virtual or real time."""
from .replay import simulate
from .scenario import Scenario, ScenarioError, load_scenario, parse_scenario, scenario_settings
from .trace import Trace

__all__ = ["Scenario", "ScenarioError", "Trace", "load_scenario", "parse_scenario",
           "scenario_settings", "simulate"]
