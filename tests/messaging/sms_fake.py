"""A local fake of Alibaba Cloud SMS (dysmsapi ``SendSms``, RPC style): it checks the request the way the gateway
does (the HMAC-SHA1 signature v1 over the sorted, percent-encoded parameters with ``secret + "&"``, the common
parameters, a timestamp within 15 minutes, a nonce used once) and answers its JSON. ``fail_next`` makes the next
calls answer an error code (``isv.BUSINESS_LIMIT_CONTROL``: throttled; ``isv.SMS_TEMPLATE_ILLEGAL``: bad template)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote

ACCESS_KEY_ID = "LTAI5tFakeKeyId"
ACCESS_KEY_SECRET = "fake-secret-0123456789abcdef"  # a test fake's key, not a real one
SIGN_NAME = "福田儿童关爱"
TEMPLATES = {"SMS_URGENT", "SMS_REMINDER", "SMS_NOTICE"}
REQUIRED = (
    "AccessKeyId",
    "Action",
    "Format",
    "PhoneNumbers",
    "SignName",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "TemplateCode",
    "Timestamp",
    "Version",
)


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


def expected_signature(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{_enc(k)}={_enc(params[k])}" for k in sorted(params) if k != "Signature")
    text = f"{method}&{_enc('/')}&{_enc(canonical)}"
    return base64.b64encode(hmac.new((ACCESS_KEY_SECRET + "&").encode(), text.encode(), hashlib.sha1).digest()).decode()


@dataclass
class Gateway:
    url: str = ""
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    fail_next: list[str] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request_id = str(uuid.uuid4()).upper()
        with self.lock:
            missing = [p for p in REQUIRED if not params.get(p)]
            if missing:
                return 400, {"Code": "MissingParameter", "Message": f"missing {missing[0]}", "RequestId": request_id}
            if params["AccessKeyId"] != ACCESS_KEY_ID:
                return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "no key", "RequestId": request_id}
            if params.get("Signature") != expected_signature(method, params):
                self.refused.append("SignatureDoesNotMatch")
                return 400, {"Code": "SignatureDoesNotMatch", "Message": "bad signature", "RequestId": request_id}
            stamp = dt.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            if abs(dt.datetime.now(dt.UTC) - stamp) > dt.timedelta(minutes=15):  # noqa: TID251 - as the gateway
                return 400, {"Code": "InvalidTimeStamp.Expired", "Message": "expired", "RequestId": request_id}
            if params["SignatureNonce"] in self.nonces:
                return 400, {"Code": "SignatureNonceUsed", "Message": "nonce used", "RequestId": request_id}
            self.nonces.add(params["SignatureNonce"])
            if params["Action"] != "SendSms" or params["Version"] != "2017-05-25":
                return 400, {"Code": "InvalidAction", "Message": "action", "RequestId": request_id}
            if self.fail_next:
                code = self.fail_next.pop(0)
                status = 200 if code.startswith("isv.") else 503
                return status, {"Code": code, "Message": code, "RequestId": request_id}
            if params["TemplateCode"] not in TEMPLATES:
                return 200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "template", "RequestId": request_id}
            if params["SignName"] != SIGN_NAME:
                return 200, {"Code": "isv.SMS_SIGNATURE_ILLEGAL", "Message": "sign", "RequestId": request_id}
            try:
                template_params = json.loads(params.get("TemplateParam", "{}"))
            except ValueError:
                return 200, {"Code": "isv.INVALID_JSON_PARAM", "Message": "json", "RequestId": request_id}
            biz = f"{len(self.sent) + 1:06d}^0"
            self.sent.append(
                {
                    "to": params["PhoneNumbers"],
                    "template": params["TemplateCode"],
                    "params": template_params,
                    "biz": biz,
                }
            )
            return 200, {"Code": "OK", "Message": "OK", "BizId": biz, "RequestId": request_id}


@contextmanager
def sms_gateway() -> Iterator[Gateway]:
    gateway = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str, params: dict[str, str]) -> None:
            status, body = gateway.answer(method, params)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode()
            self._reply("POST", dict(parse_qsl(raw, keep_blank_values=True)))

        def do_GET(self) -> None:
            query = self.path.partition("?")[2]
            self._reply("GET", dict(parse_qsl(query, keep_blank_values=True)))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
