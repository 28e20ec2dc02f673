"""python -m sandbox.connectwise: serve the ConnectWise sandbox until interrupted."""
import time

from sandbox.kit import cli_parser, run_forever

from . import DEFAULTS, READONLY, create_app
from .api import CODEBASE


def main() -> None:
    parser = cli_parser("python -m sandbox.connectwise", 8201)
    parser.add_argument("--company", default=DEFAULTS["company"])
    parser.add_argument("--public-key", default=DEFAULTS["public_key"])
    parser.add_argument("--private-key", default=DEFAULTS["private_key"])
    parser.add_argument("--client-id", default=DEFAULTS["client_id"])
    parser.add_argument("--rate-limit", type=int, default=None,
                        help="requests a minute before 429 (default: no limit)")
    args = parser.parse_args()
    started = time.monotonic()
    app = create_app(seed=args.seed, scale=args.scale, company=args.company,
                     public_key=args.public_key, private_key=args.private_key,
                     client_id=args.client_id, rate_limit_per_minute=args.rate_limit)
    invoices = len(app.sandbox.store.table("finance/invoices"))
    base = f"http://{args.host}:{args.port}"
    banner = "\n".join([
        f"ConnectWise Manage sandbox on {base}  (seed {args.seed}, scale {args.scale}, "
        f"{invoices} invoices, built in {time.monotonic() - started:.2f}s)",
        f"  API base     {base}/{CODEBASE}apis/3.0/",
        f"  company      {args.company}",
        f"  public key   {args.public_key}",
        f"  private key  {args.private_key}",
        f"  client id    {args.client_id}",
        f"  read-only    {READONLY[0]} / {READONLY[1]} (no finance rights)",
    ])
    run_forever(app, args.host, args.port, banner)


if __name__ == "__main__":
    main()
