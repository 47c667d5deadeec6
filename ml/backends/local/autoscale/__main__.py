"""``python -m ml.backends.local.autoscale``: the autoscaler program supervisord runs per endpoint.

Everything it needs beyond the endpoint's name is in the endpoint's record (its policy, its
runtime), so its command line never changes while the endpoint lives.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from ml.backends.local.autoscale.scaler import Autoscaler
from ml.backends.local.endpoints import Endpoints
from ml.backends.local.layout import Layout
from ml.backends.local.programs import Programs
from ml.backends.local.runtime import programs_for
from ml.backends.local.store import StateStore

TICK_S = 1.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="autoscale", description="Local autoscaler of one endpoint (run by its supervisord).")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--endpoint", required=True)
    args = parser.parse_args(argv)
    layout = Layout(root=args.root, state=args.state)
    store = StateStore(layout=layout)

    def programs() -> Programs:  # the runtime the endpoint was created with
        state = endpoints.require(args.endpoint, verb="scale")
        return programs_for(runtime=state.settings.runtime, layout=layout, store=store)

    endpoints = Endpoints(store=store, layout=layout, programs=programs)
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping  # finish the tick under way (a rescale half done would leave a stray instance)
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    scaler = Autoscaler(endpoints=endpoints, name=args.endpoint)
    while not stopping:
        try:
            if not scaler.tick():
                return 0
        except Exception as err:  # keep scaling: one bad tick (a log read, a busy store) is logged, not fatal
            print(f"autoscaler: {err!r}", file=sys.stderr, flush=True)
        time.sleep(TICK_S)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
