"""/metrics for Prometheus: Ferry's cycles, records, exceptions, API calls, Xero's day
quota, the queue and the outbox, computed at scrape time (jobs/metrics.py).

With FERRY_METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>`; without
it, only this machine may ask (a request from elsewhere, or one that came through a
reverse proxy, is refused), so nothing about the business is shown to the internet."""
import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request

from blueprints import public

bp = Blueprint("metrics", __name__)


def _allowed() -> tuple[bool, int, str]:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        sent = request.headers.get("Authorization", "")
        if sent.startswith("Bearer ") and hmac.compare_digest(
                sent[len("Bearer "):].strip().encode(), token.encode()):
            return True, 200, ""
        return False, 401, "Send the metrics token: Authorization: Bearer <FERRY_METRICS_TOKEN>.\n"
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if loopback and "X-Forwarded-For" not in request.headers:
        return True, 200, ""
    return False, 403, ("/metrics answers this machine only; set FERRY_METRICS_TOKEN to "
                        "scrape it from elsewhere.\n")


@bp.route("/metrics")
@public
def metrics():
    ok, status, sentence = _allowed()
    if not ok:
        answer = Response(sentence, status=status, mimetype="text/plain")
        if status == 401:
            answer.headers["WWW-Authenticate"] = 'Bearer realm="ferry-metrics"'
        return answer
    from prometheus_client import CONTENT_TYPE_LATEST

    from jobs.metrics import exposition
    try:
        body = exposition()
    except Exception as exc:             # the database is down: say so, as /healthz does
        current_app.logger.warning("metrics: %s", exc)
        return Response("The database did not answer.\n", status=503, mimetype="text/plain")
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
