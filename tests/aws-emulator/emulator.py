"""The ecs-scaler AWS emulator: moto's server plus the behaviour the tests need and moto lacks.

    .venv/bin/python tests/aws-emulator/emulator.py [--host 127.0.0.1] [--port 0]
                                                    [--exit-with-stdin] [--verbose]

Once the server accepts connections, the base URL (e.g. ``http://127.0.0.1:45123``) is the
one and only line written to stdout; test harnesses read it to find the emulator, so
everything else (logs, and moto's own stray prints) goes to stderr. SIGTERM and SIGINT stop it
with exit status 0. With ``--exit-with-stdin`` it also stops when its stdin reaches EOF: the
parent holds the write end of that pipe, so however the parent dies (even SIGKILL) the kernel
closes it and the emulator never outlives its test run.

All AWS services are served at that one URL; moto picks the service from the SigV4 credential
scope. See README.md for the control API under ``/_emulator/`` and what is patched.
"""

import argparse
import logging
import os
import signal
import sys
import threading

# Sibling modules live next to this script, which is not inside a package.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--exit-with-stdin", action="store_true", help="exit when stdin reaches EOF")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # The URL line is the only thing allowed on stdout; moto occasionally print()s.
    url_out, sys.stdout = sys.stdout, sys.stderr
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(name)s %(levelname)s: %(message)s",
    )
    # werkzeug raises its own logger to INFO unless a level is set explicitly.
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)

    # moto's EC2 backend creates ~1200 sample AMIs at start and on every reset (0.4 s each time);
    # tests name their own AMI ids and moto does not validate them.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    # Imported late: importing moto takes a moment and should not delay argument errors.
    from werkzeug.serving import make_server

    from gateway import build_app

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    server = make_server(args.host, args.port, build_app(), threaded=True)
    serving = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    serving.start()
    host, port = server.server_address[:2]
    url_host = f"[{host}]" if ":" in host else host
    print(f"http://{url_host}:{port}", file=url_out, flush=True)

    if args.exit_with_stdin:
        threading.Thread(target=_set_at_eof, args=(stop,), name="stdin", daemon=True).start()

    stop.wait()
    server.shutdown()
    server.server_close()
    return 0


def _set_at_eof(event: threading.Event) -> None:
    """Read (and discard) stdin until EOF, then set ``event``.

    Reads the file descriptor directly: a thread blocked inside ``sys.stdin``'s buffered
    reader would hold its lock and make the interpreter abort at exit.
    """
    while os.read(sys.stdin.fileno(), 65536):
        pass
    event.set()


if __name__ == "__main__":
    sys.exit(main())
