"""`python -m sandbox.xero`: serve the Xero sandbox and print what Ferry needs."""
from sandbox.kit import cli_parser, run_forever

from . import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app


def main() -> None:
    parser = cli_parser("python -m sandbox.xero", 8202)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument("--day-limit", type=int, default=5000,
                        help="calls a day per org (1000 mimics the Starter tier)")
    args = parser.parse_args()
    app = create_app(seed=args.seed, scale=args.scale, client_id=args.client_id,
                     client_secret=args.client_secret, day_limit=args.day_limit)
    base = f"http://{args.host}:{args.port}"
    orgs = "\n".join(f"  {o.name}: tenant {o.tenant_id}" for o in app.xero.store.orgs.values())
    banner = (
        f"Xero sandbox on {base} (seed {args.seed})\n"
        f"  authorize URL:   {base}/identity/connect/authorize\n"
        f"  token URL:       {base}/connect/token\n"
        f"  connections URL: {base}/connections\n"
        f"  API base URL:    {base}/api.xro/2.0\n"
        f"  client id:       {args.client_id}\n"
        f"  client secret:   {args.client_secret}\n"
        f"{orgs}\n"
        f"  sandbox controls: {base}/_sandbox/journal, /_sandbox/faults, /_sandbox/clock, "
        "/_sandbox/xero/...")
    run_forever(app, args.host, args.port, banner)


if __name__ == "__main__":
    main()
