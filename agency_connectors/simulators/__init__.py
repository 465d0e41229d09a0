"""Simulated government agencies: real HTTP services on loopback for the demo, tests and benchmarks.

Eight agencies (identity, tax, pension, housing, transport, employment, education, family) answer
`POST /{agency}/v1/person-lookup` with deterministic synthetic MyInfo-format records, each behind its
own API key, with per-agency fault injection (latency, errors, outages, malformed answers, hangs).

    with start_simulators(default_config()) as sims:
        url = sims.url_for("tax")          # e.g. http://127.0.0.1:54321/tax
        sims.set_fault("tax", error_rate=1.0)

Run standalone with `python -m agency_connectors.simulators --port 8700`. The default keys are
public demo credentials ("demo-<agency>-key", control key "demo-control-key"): demo use only.
"""

from .faults import FAULTS, HANG_SECONDS, UNKNOWN_ATTRIBUTE, Faults
from .records import AGENCIES, record_for
from .running import RunningSimulators, start_simulators
from .server import LOOKUP_PATH
from .state import DEMO_CONTROL_KEY, SimulatorConfig, default_config, demo_api_key

__all__ = [
    "AGENCIES",
    "DEMO_CONTROL_KEY",
    "FAULTS",
    "HANG_SECONDS",
    "LOOKUP_PATH",
    "UNKNOWN_ATTRIBUTE",
    "Faults",
    "RunningSimulators",
    "SimulatorConfig",
    "default_config",
    "demo_api_key",
    "record_for",
    "start_simulators",
]
