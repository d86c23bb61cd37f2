"""`python -m examples.supplier_service --api-key KEY=CUSTOMER --callback-secret S`: run the example supplier.

Prints the API's base URL and the control token, serves until Ctrl-C or SIGTERM, then stops its
timers and callbacks cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import signal
import sys

from aiohttp import web

from .server import SupplierService, create_app


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m examples.supplier_service", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--api-key", action="append", type=_pair, required=True, metavar="KEY=CUSTOMER",
                        help="an accepted API key and its customer id (repeatable)")
    parser.add_argument("--callback-secret", help="signs the status callbacks (unsigned without it)")
    parser.add_argument("--price", action="append", type=_pair, default=[], metavar="COMMODITY=PER_LITRE",
                        help="what is sold and its price (default water=0.12, lp_gas=11.5)")
    parser.add_argument("--currency", default="MXN")
    parser.add_argument("--loads", action="append", type=_pair, default=[], metavar="COMMODITY=L1,L2",
                        help="sell this commodity only in whole loads, e.g. water=5000,10000")
    parser.add_argument("--confirm-after", type=float, help="seconds after creation (default: only by hand)")
    parser.add_argument("--dispatch-after", type=float, help="seconds after creation (default: only by hand)")
    parser.add_argument("--deliver-after", type=float, help="seconds after creation (default: only by hand)")
    parser.add_argument("--eta-after", type=float, default=86400.0, help="the eta promised, seconds after creation")
    parser.add_argument("--control-token", help="X-Control-Token of /_control (default: a random one, printed)")
    return parser.parse_args(argv)


def build_service(args: argparse.Namespace) -> SupplierService:
    """The service the command line describes."""
    prices = {name: float(value) for name, value in args.price} or None
    loads = {name: [int(x) for x in value.split(",") if x.strip()] for name, value in args.loads}
    return SupplierService(
        api_keys=dict(args.api_key),
        callback_secret=args.callback_secret,
        prices=prices,
        currency=args.currency,
        confirm_after=args.confirm_after,
        dispatch_after=args.dispatch_after,
        deliver_after=args.deliver_after,
        eta_after=args.eta_after,
        loads=loads,
        control_token=args.control_token or secrets.token_urlsafe(16),
    )


async def serve(args: argparse.Namespace) -> None:
    """Run until SIGINT or SIGTERM."""
    service = build_service(args)
    runner = web.AppRunner(create_app(service))
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        site = web.TCPSite(runner, args.host, args.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        print(f"Supplier API: http://{host}:{port}/v1", flush=True)
        print(f"control token: {service.control_token}", flush=True)
        print("Ctrl-C to stop", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()  # closes the service too (timers, callbacks)
    print("stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
