"""Run the agency simulators in the foreground until Ctrl-C (or SIGTERM).

    python -m agency_connectors.simulators --host 127.0.0.1 --port 8700 [--latency-ms 0]

Prints where it listens and the (demo) keys; never prints or logs personal data.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence

from .records import AGENCIES
from .running import start_simulators
from .state import DEMO_CONTROL_KEY, default_config, demo_api_key


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m agency_connectors.simulators", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8700, help="port (0: any free port)")
    parser.add_argument("--latency-ms", type=int, default=0, help="base latency of every agency")
    parser.add_argument("--seed", default="consentry", help="data seed: same seed, same synthetic people")
    args = parser.parse_args(argv)
    if args.latency_ms < 0:
        parser.error("--latency-ms must not be negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    done = threading.Event()
    # SIGTERM (e.g. from a process manager) stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        with start_simulators(default_config(args.latency_ms, args.seed), args.host, args.port) as sims:
            print(f"Agency simulators listening on {sims.base_url}", flush=True)
            print(f"  agencies: {', '.join(AGENCIES)} (each at {sims.base_url}/<agency>/v1/person-lookup)")
            print(f"  demo-only keys: X-API-Key {demo_api_key('<agency>')}, X-Control-Key {DEMO_CONTROL_KEY}")
            print("  Ctrl-C to stop", flush=True)
            while not done.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass  # Ctrl-C at any point: the with block has already stopped the server
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
