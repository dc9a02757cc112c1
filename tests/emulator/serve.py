"""Runs moto in server mode on a free loopback port, one request at a time.

Real DynamoDB applies each conditional write atomically; stock moto does not when requests
arrive concurrently. Serializing the whole server restores that guarantee (and more), so the
safeguard's concurrency tests exercise the same conditional writes production makes.

Usage: serve.py PORT_FILE. Writes the chosen port to PORT_FILE once it is listening.
"""

import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


def serialized(app):
    lock = threading.Lock()

    def wrapper(environ, start_response):
        with lock:
            # Drain the body inside the lock: a WSGI app may do its work lazily.
            result = app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close:
                    close()
        return [body]

    return wrapper


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: serve.py PORT_FILE")
    port_file = sys.argv[1]
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, serialized(app), threaded=True)
    os.environ["MOTO_PORT"] = str(server.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.port))
    os.replace(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
