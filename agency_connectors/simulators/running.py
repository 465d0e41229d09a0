"""Starting and stopping the simulators from Python (tests, benchmarks, the demo launcher)."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from .faults import Faults
from .records import AGENCIES
from .server import LOOKUP_PATH, SimulatorHTTPServer
from .state import SimulatorConfig, SimulatorState, default_config

_KEEP: Any = object()  # "leave unchanged": None is a meaningful value of `fault`
_POLL_S = 0.05  # how often serve_forever checks for shutdown; bounds stop() latency


class RunningSimulators:
    """A server running in a background thread. Stop it with `stop()` or a `with` block."""

    def __init__(
        self, server: SimulatorHTTPServer, thread: threading.Thread, config: SimulatorConfig
    ) -> None:
        self._server = server
        self._thread = thread
        self.config = config
        host, port = server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._stopped = False

    @property
    def state(self) -> SimulatorState:
        return self._server.state

    def url_for(self, agency: str) -> str:
        """The agency's base URL (its lookup endpoint is this plus "/v1/person-lookup")."""
        if agency not in AGENCIES:
            raise ValueError(f"unknown agency {agency!r}")
        return f"{self.base_url}/{agency}"

    def lookup_url(self, agency: str) -> str:
        return self.url_for(agency) + LOOKUP_PATH

    def set_fault(
        self,
        agency: str,
        *,
        latency_ms: int = _KEEP,
        error_rate: float = _KEEP,
        outage: bool = _KEEP,
        fault: str | None = _KEEP,
    ) -> Faults:
        """Change some of `agency`'s faults in-process (same rules as POST /_control/{agency});
        omitted ones stay as they are. Raises ValueError on a bad value or unknown agency."""
        if agency not in AGENCIES:
            raise ValueError(f"unknown agency {agency!r}")
        given = {"latency_ms": latency_ms, "error_rate": error_rate, "outage": outage, "fault": fault}
        return self.state.update(agency, {k: v for k, v in given.items() if v is not _KEEP})

    def reset(self) -> None:
        """Clear every agency's faults and counters."""
        self.state.reset()

    def stats(self) -> dict[str, dict[str, int]]:
        return self.state.stats()

    def stop(self) -> None:
        """Stop serving and join the thread. Prompt even with requests sleeping in a latency or hang
        fault: they wake and drop their connection. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.state.stopping.set()
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningSimulators:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_simulators(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSimulators:
    """Serve every simulated agency on `host:port` (port 0: any free port) from a daemon thread.
    Returns once the socket is listening. Raises ValueError on a bad config, OSError if the port is
    taken."""
    config = config or default_config()
    server = SimulatorHTTPServer((host, port), SimulatorState(config))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": _POLL_S}, name="agency-simulators", daemon=True
    )
    thread.start()
    return RunningSimulators(server, thread, config)
