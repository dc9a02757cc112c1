"""Runs moto in server mode on a free loopback port, one request at a time.

Real DynamoDB applies each conditional write atomically; stock moto does not when requests
arrive concurrently. Serializing the whole server restores that guarantee (and more), so the
safeguard's concurrency tests exercise the same conditional writes production makes.

It also injects faults, for the error paths the emulator cannot produce by itself: a POST
to /tourniquet/faults with a JSON list of {"operation": "CreateSnapshot", "code": "...",
"status": 403} makes every later call of that operation fail with that AWS error, until the
list is replaced or the emulator is reset (POST /moto-api/reset). Optional fields choose
which calls: "skip": N lets the first N calls through, "times": M faults only M calls; and
"stall": S holds the call S seconds first (outside the server's lock, so other calls go on),
then fails it with "code", or serves it when the fault has no "code".

A fault with "answer" (a JSON object) instead of "code" answers 200 with it, for operations the
emulator lacks (CloudTrail's LookupEvents, GuardDuty's GetFindings). GET /tourniquet/requests counts the requests served
since the last reset, by operation. Answers that moto words unlike AWS are reworded
(MOTO_WORDING); listings moto lacks answer empty (MOTO_LACKS).

Usage: serve.py PORT_FILE. Writes the chosen port to PORT_FILE once it is listening.
"""

import io
import json
import os
import re
import signal
import sys
import threading
import time
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


FAULTS = []
# Requests served since the last reset, by operation: GET /tourniquet/requests.
REQUESTS = {}


# REST services name an operation by its method and path, not by a header or a parameter:
# the few the emulator must answer for.
REST_OPERATIONS = [
    ("guardduty", "POST", re.compile(r"^/detector/[^/]+/findings/get$"), "GetFindings"),
]


def operation_of(environ, body):
    """The AWS operation a request calls, and the service it is signed for."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    service = match.group(1) if match else ""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".")[-1], service, "json"
    for rest_service, method, path, name in REST_OPERATIONS:
        if (service == rest_service and environ.get("REQUEST_METHOD") == method
                and path.match(environ.get("PATH_INFO", ""))):
            return name, service, "json"
    params = parse_qs(environ.get("QUERY_STRING", ""))
    params.update(parse_qs(body.decode("utf-8", "replace")))
    return (params.get("Action") or [""])[0], service, "query"


def answer_response(fault, start_response):
    """A canned success: the JSON answer an operation the emulator lacks would give."""
    body = json.dumps(fault["answer"]).encode()
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"),
                              ("Content-Length", str(len(body)))])
    return [body]


def fault_response(fault, service, protocol, start_response):
    if "answer" in fault:
        return answer_response(fault, start_response)
    code, message = fault["code"], "injected by the test harness"
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        ctype = "application/x-amz-json-1.0"
    elif service == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
                "</Error></Errors><RequestID>fault</RequestID></Response>").encode()
        ctype = "text/xml"
    else:
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}"
                "</Message></Error><RequestId>fault</RequestId></ErrorResponse>").encode()
        ctype = "text/xml"
    start_response(f"{fault.get('status', 400)} Fault", [("Content-Type", ctype),
                                                        ("Content-Length", str(len(body)))])
    return [body]


def serialized(app):
    lock = threading.Lock()

    def wrapper(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        path = environ.get("PATH_INFO", "")
        with lock:
            if path == "/tourniquet/faults":
                FAULTS[:] = json.loads(body or b"[]")
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"ok"]
            if path == "/tourniquet/requests":
                answer = json.dumps(REQUESTS).encode()
                start_response("200 OK", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(answer)))])
                return [answer]
            if path == "/moto-api/reset":
                FAULTS.clear()
                REQUESTS.clear()
            operation, service, protocol = operation_of(environ, body)
            if operation:
                REQUESTS[operation] = REQUESTS.get(operation, 0) + 1
            fault = chosen_fault(operation)
            if fault is None and operation in MOTO_LACKS:
                fault = {"answer": MOTO_LACKS[operation]}
            if fault is not None and not fault.get("stall"):
                return fault_response(fault, service, protocol, start_response)
            if fault is None:
                return serve(app, environ, start_response)
        time.sleep(float(fault["stall"]))
        if "code" in fault:
            return fault_response(fault, service, protocol, start_response)
        with lock:
            return serve(app, environ, start_response)

    return wrapper


def chosen_fault(operation):
    """The fault that applies to this call of `operation`, counting calls as they come."""
    for fault in FAULTS:
        if fault["operation"] != operation:
            continue
        fault["seen"] = fault.get("seen", 0) + 1
        if fault["seen"] <= fault.get("skip", 0):
            continue
        if "times" in fault and fault.get("applied", 0) >= fault["times"]:
            continue
        fault["applied"] = fault.get("applied", 0) + 1
        return fault
    return None


# Operations moto lacks (it answers 500, which SDKs retry), answered as AWS does in an account
# that has none of what they list. A fault with an "answer" overrides them.
# GuardDuty's GetFindings answers an id it does not have with no finding, as AWS does.
MOTO_LACKS = {"ListEventDataStores": {"EventDataStores": []}, "GetFindings": {"findings": []}}

# Answers moto words differently from AWS, which strict SDKs refuse to parse: moto names the
# root of GetBucketVersioning's answer GetBucketVersioningResponse, AWS VersioningConfiguration.
MOTO_WORDING = [(b"GetBucketVersioningResponse", b"VersioningConfiguration")]


def serve(app, environ, start_response):
    # Drain the body inside the lock: a WSGI app may do its work lazily.
    answered = {}

    def capture(status, headers, exc_info=None):
        answered["status"], answered["headers"] = status, headers
        return lambda data: None

    result = app(environ, capture)
    try:
        answer = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    for moto_word, aws_word in MOTO_WORDING:
        answer = answer.replace(moto_word, aws_word)
    headers = [(k, str(len(answer)) if k.lower() == "content-length" else v)
               for k, v in answered["headers"]]
    start_response(answered["status"], headers)
    return [answer]

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
