"""The local API server: the Chalice app (infra.local.wsgi, chalice's LocalGateway) under waitress.

`python -m infra.local.serve --stage local --host 127.0.0.1 --port 8000` serves what
`chalice local --stage local --no-autoreload` serves, but holds many concurrent clients: `chalice local`
is `http.server` with a listen backlog of 5 and a thread per connection, so a burst of 50 clients gets
reset or timed-out connections. waitress is a maintained, pure-Python WSGI server: a 1024-deep backlog,
an event loop accepting every connection and a fixed pool of worker threads running the requests.
SIGTERM and SIGINT stop it at once (the stack's Ctrl-C).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from infra.local.env import API_PORT, HOST, ROOT

# Worker threads: requests are short and mostly wait on moto (another process), so a few more than
# cores; connections beyond them wait in waitress's queue, not in the kernel's backlog.
THREADS = 8
CONNECTION_LIMIT = 500


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="local")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=API_PORT)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args(argv)
    # Lambda's (and `chalice local`'s) stdout logging; waitress's own warnings only
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    logging.getLogger("waitress").setLevel(logging.ERROR)

    from waitress.server import create_server

    from infra.local.wsgi import load

    server = create_server(
        load(args.stage, str(ROOT)),
        host=args.host,
        port=args.port,
        threads=args.threads,
        connection_limit=CONNECTION_LIMIT,
        backlog=1024,
        channel_timeout=60,
        asyncore_use_poll=True,  # no select() limit on file descriptors
        ident="procure-local",
        clear_untrusted_proxy_headers=True,
    )

    def stop(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Serving on http://{args.host}:{args.port} (waitress, {args.threads} threads)", flush=True)
    try:
        server.run()
    finally:
        server.close()


if __name__ == "__main__":
    main()
