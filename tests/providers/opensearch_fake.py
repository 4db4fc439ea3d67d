"""A local fake of the OpenSearch HTTP API: just what a search backend uses (index creation,
``_bulk``, ``_search`` with a ``bool`` of ``term`` filters and a ``bool_prefix``
``multi_match`` with field boosts), speaking the real wire format so that the real
opensearch-py client code path runs. Scoring is term frequency times field boost."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text or "")]


class FakeOpenSearch:
    def __init__(self) -> None:
        self.indices: dict[str, dict[str, dict[str, Any]]] = {}
        self.requests: list[str] = []
        self.app = Flask("fake-opensearch")
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._lock = threading.Lock()
        self._routes()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenSearch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def _search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        query = body.get("query", {}).get("bool", {})
        filters = query.get("filter", [])
        match = query.get("must", [{}])[0].get("multi_match", {})
        words = tokens(match.get("query", ""))
        fields = [
            (f.split("^")[0], float(f.split("^")[1]) if "^" in f else 1.0)
            for f in match.get("fields", [])
        ]
        hits = []
        for doc_id, source in self.indices.get(index, {}).items():
            if any(source.get(k) != v for f in filters for k, v in f["term"].items()):
                continue
            score, matched_all = 0.0, True
            for position, word in enumerate(words):
                prefix = match.get("type") == "bool_prefix" and position == len(words) - 1
                word_score = 0.0
                for field, boost in fields:
                    field_tokens = tokens(source.get(field, ""))
                    count = sum(
                        1 for t in field_tokens if (t.startswith(word) if prefix else t == word)
                    )
                    word_score += boost * count
                if word_score == 0:
                    matched_all = False
                score += word_score
            if words and matched_all:
                hits.append({"_index": index, "_id": doc_id, "_score": score})
        hits.sort(key=lambda h: (-h["_score"], h["_id"]))
        hits = hits[: int(body.get("size", 10))]
        return {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": len(hits), "relation": "eq"},
                "max_score": hits[0]["_score"] if hits else None,
                "hits": hits,
            },
        }

    def _routes(self) -> None:
        app, fake = self.app, self

        @app.before_request
        def record() -> None:
            fake.requests.append(f"{request.method} {request.path}")

        @app.route("/", methods=["GET", "HEAD"])
        def info() -> Any:
            return jsonify(
                name="fake",
                cluster_name="fake",
                version={"distribution": "opensearch", "number": "2.17.0"},
                tagline="The OpenSearch Project",
            )

        @app.route("/<index>", methods=["HEAD", "PUT"])
        def index_(index: str) -> Any:
            with fake._lock:
                if request.method == "HEAD":
                    return Response(status=200 if index in fake.indices else 404)
                fake.indices.setdefault(index, {})
            return jsonify(acknowledged=True, shards_acknowledged=True, index=index)

        @app.post("/_bulk")
        def bulk() -> Any:
            lines = [json.loads(line) for line in request.get_data().splitlines() if line.strip()]
            items, i = [], 0
            with fake._lock:
                while i < len(lines):
                    action, meta = next(iter(lines[i].items()))
                    docs = fake.indices.setdefault(meta["_index"], {})
                    if action == "index":
                        docs[meta["_id"]] = lines[i + 1]
                        items.append({"index": {"_id": meta["_id"], "status": 201}})
                        i += 2
                    else:
                        found = docs.pop(meta["_id"], None) is not None
                        items.append(
                            {"delete": {"_id": meta["_id"], "status": 200 if found else 404}}
                        )
                        i += 1
            return jsonify(took=1, errors=False, items=items)

        @app.post("/<index>/_search")
        def search(index: str) -> Any:
            if index not in fake.indices:
                return jsonify(error={"type": "index_not_found_exception"}, status=404), 404
            with fake._lock:
                return jsonify(fake._search(index, request.get_json(force=True)))
