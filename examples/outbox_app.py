"""The outbox pattern: a small web app whose order and the job that ships it
commit in one transaction, so the job exists if and only if the order does.

    pip install ./bindings/python
    python3 examples/outbox_app.py shop.db          # POST /orders {"item": "book"}
    orq --db shop.db worker -q ship -- sh -c 'cat; echo shipped'

Standard library only (wsgiref); any framework works the same way: open the
transaction, write your rows, enqueue, commit.
"""

import json
import os
import sys
from wsgiref.simple_server import make_server

import orq

DB = os.environ.get("SHOP_DB", "shop.db")


def connect() -> orq.Queue:
    q = orq.Queue(DB)
    q.db.rows("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL, job INTEGER)")
    return q


def create_order(q: orq.Queue, item: str) -> dict:
    with q.transaction():  # BEGIN IMMEDIATE … COMMIT; any exception rolls back both
        [(order_id,)] = q.db.rows("INSERT INTO orders (item) VALUES (?) RETURNING id", (item,))
        job = q.enqueue("ship", {"order": order_id, "item": item}, key=f"order-{order_id}")
        q.db.rows("UPDATE orders SET job = ? WHERE id = ?", (job, order_id))
    return {"order": order_id, "job": job}


def app(environ, start_response):
    q = connect()  # a connection per request: connections belong to one thread
    try:
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"] == "/orders":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(size) or b"{}")
            if not isinstance(body.get("item"), str):
                return respond(start_response, "400 Bad Request", {"error": "item (a string) is required"})
            return respond(start_response, "201 Created", create_order(q, body["item"]))
        if environ["PATH_INFO"] == "/stats":
            return respond(start_response, "200 OK", q.stats())
        return respond(start_response, "404 Not Found", {"error": "POST /orders or GET /stats"})
    finally:
        q.close()


def respond(start_response, status, body):
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


if __name__ == "__main__":
    DB = sys.argv[1] if len(sys.argv) > 1 else DB
    connect().close()
    with make_server("127.0.0.1", 8000, app) as server:
        print("listening on http://127.0.0.1:8000 (POST /orders, GET /stats)")
        server.serve_forever()
