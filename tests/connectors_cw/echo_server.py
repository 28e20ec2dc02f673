"""A tiny API behind the sandbox kit, for transport tests: it counts writes, so a test
can tell whether a POST happened once, twice or not at all."""
import threading

from flask import Flask, jsonify, request
from werkzeug.wrappers import Response

from sandbox.kit import FaultRule, Kit, serve_in_thread


class EchoServer:
    def __init__(self):
        self.writes: list[dict] = []
        self._lock = threading.Lock()
        self.kit = Kit("echo", reset=self.writes.clear)
        app = Flask("echo")

        @app.route("/things", methods=["GET"])
        def things():
            return jsonify({"args": request.args.to_dict(), "amount": 12.345678901234567})

        @app.route("/things", methods=["POST", "PUT"])
        def write():
            with self._lock:
                self.writes.append(request.get_json())
            return app.response_class(request.get_data(), status=201,
                                      mimetype="application/json")

        @app.route("/token", methods=["POST"])
        def token():
            return jsonify({"access_token": "AT-" + request.form["code"],
                            "refresh_token": "RT-secret-value", "token_type": "Bearer"})

        @app.route("/html")
        def html():
            return "<html>login</html>", 200, {"Content-Type": "text/html"}

        self.served = serve_in_thread(self.kit.wrap(app))
        self.url = self.served.url

    def fault(self, **rule) -> None:
        self.kit.faults.clear()
        self.kit.faults.add(FaultRule(**rule))

    def throttle(self, retry_after: str, **rule) -> None:
        """Answer matching requests with 429 and this Retry-After."""
        self.kit.fault_handlers["429"] = lambda request, _rule: Response(
            '{"message": "slow down"}', 429,
            {"Retry-After": retry_after, "Content-Type": "application/json"})
        self.fault(kind="429", **rule)

    def stop(self):
        self.served.stop()
