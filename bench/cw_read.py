"""ConnectWise calls per record for a full invoice read, against the floor ⌈records/1000⌉.

    .venv/bin/python bench/cw_read.py --scale 20

Starts the ConnectWise sandbox on loopback, reads every invoice through Ferry's client
(forward-only paging, pageSize 1000), and prints calls, records, calls per record and
the wall time. The companyinfo discovery call is counted too.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.audit import ListSink  # noqa: E402
from connectors.connectwise import PAGE_SIZE, ConnectWise, CWSettings  # noqa: E402
from sandbox.connectwise import DEFAULTS, create_app  # noqa: E402
from sandbox.kit import serve_in_thread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    built = time.perf_counter()
    server = serve_in_thread(create_app(seed=args.seed, scale=args.scale))
    print(f"sandbox: scale {args.scale}, built in {time.perf_counter() - built:.1f}s")
    try:
        sink = ListSink()
        client = ConnectWise(CWSettings(server.url, DEFAULTS["company"],
                                        DEFAULTS["public_key"], DEFAULTS["private_key"],
                                        DEFAULTS["client_id"]), sink=sink)
        started = time.perf_counter()
        records = sum(1 for _ in client.invoices_changed_since(None))
        elapsed = time.perf_counter() - started
        client.close()
    finally:
        server.stop()
    calls = len(sink.records)
    floor = -(-records // PAGE_SIZE)
    print(f"invoices read:     {records}")
    print(f"ConnectWise calls: {calls} (1 companyinfo + {calls - 1} pages)")
    print(f"floor:             {floor} = ceil({records}/{PAGE_SIZE})")
    print(f"calls per record:  {calls / max(records, 1):.5f} (floor {floor / max(records, 1):.5f})")
    print(f"wall time:         {elapsed:.2f}s ({elapsed / max(calls, 1) * 1000:.0f} ms per call)")


if __name__ == "__main__":
    main()
