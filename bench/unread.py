"""`make bench`, conversation state: a room with 2,000 online members at 20 msg/s
with unread badges live, against the same room without them, in the same run.

- without badges: every member has the room open (a chat socket); each message
  is one frame per member;
- with badges: every member also has the socket every signed-in page opens
  (`/ws/online-status/`), which carries the message's activity event from which
  the page updates its badges, title and notifications: two frames per member
  per message, the second the same bytes for all of them;
- badges only: the members are elsewhere on the site (only that socket).

The contract: server CPU per delivered frame with badges within 1.25x of
without, and every frame delivered. BENCH_MEMBERS and BENCH_STATE_SECONDS size
it. Results go to bench/results/<time>-unread-<layers>.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import RESULTS, Database, Receivers, Result, Server, chat_body, connect_all, measure  # noqa: E402

MEMBERS = int(os.environ.get("BENCH_MEMBERS", "2000"))
RATE = 20
SECONDS = int(os.environ.get("BENCH_STATE_SECONDS", "3"))
CHAT = "/ws/chatroom/public-chat/"
PAGE = "/ws/online-status/"
# The presence count settles (coalesced, once a second) after every member connects.
SETTLE_SECONDS = 4
# 2,000 members at 20 msg/s is 40,000 frames a second (80,000 with badges) for one
# client process on the same machine: it falls behind, so deliveries take longer to
# arrive, and the sockets' bounded queues are raised so a slow bench client is not
# closed (1013) mid-run. Both scenarios run the same way.
DELIVERY_WAIT_SECONDS = 600
SERVER_ENV = {"WS_QUEUE_MAX_FRAMES": "1000000", "WS_QUEUE_MAX_BYTES": str(2**31)}
RATIO_MAX = 1.25

SCENARIOS = {
    "room, no badges": (CHAT,),
    "room + badges live": (CHAT, PAGE),
    "badges only (elsewhere)": (PAGE,),
}


async def scenario(layer: str, name: str, cookies: list[str], sender_cookie: str) -> Result:
    paths = SCENARIOS[name]
    messages = RATE * SECONDS
    with Server("uvicorn", layer, **SERVER_ENV) as server:
        sockets = await connect_all(server, [(path, cookie) for path in paths for cookie in cookies], batch=20)
        (sender,) = await connect_all(server, [(CHAT, sender_cookie)])
        await asyncio.sleep(SETTLE_SECONDS)
        result = Result("uvicorn", layer, name, len(sockets), messages, len(sockets) * messages)

        async def send(n: int) -> None:
            # The send time rides in the body: the chat frame and the activity
            # event (its excerpt) both carry it.
            await sender.send(json.dumps({"body": chat_body(n), "client_id": uuid.uuid4().hex}))

        await measure(server, result, Receivers(sockets, result.expected), send, RATE, wait=DELIVERY_WAIT_SECONDS)
        result.notes.append(f"{result.cpu_us_per_delivery * len(sockets) / len(cookies):.1f} µs per member per message")
        await asyncio.gather(*(ws.close() for ws in [*sockets, sender]), return_exceptions=True)
        return result


async def run_all(cookies: list[str], sender_cookie: str) -> list[Result]:
    layers = ["memory", "redis"] if os.environ.get("REDIS_URL") else ["memory"]
    results = []
    for layer in layers:
        for name in SCENARIOS:
            result = await scenario(layer, name, cookies, sender_cookie)
            print(f"  {layer} {name}: {result.delivered}/{result.expected}", flush=True)
            results.append(result)
    return results


def report(results: list[Result]) -> list[str]:
    lines = [
        f"{'layer':6} {'scenario':26} {'delivered':>15} {'p50 ms':>8} {'p99 ms':>8} {'cpu µs/frame':>13} "
        f"{'vs no badges':>13} {'peak MB':>8}"
    ]
    baseline = {r.layer: r for r in results if r.scenario == "room, no badges"}
    verdicts = []
    for r in results:
        ratio = r.cpu_us_per_delivery / baseline[r.layer].cpu_us_per_delivery
        lines.append(
            f"{r.layer:6} {r.scenario:26} {f'{r.delivered}/{r.expected}':>15} {r.p50_ms:8.1f} {r.p99_ms:8.1f} "
            f"{r.cpu_us_per_delivery:13.1f} {f'{ratio:.2f}x':>13} {r.peak_rss_mb:8.1f}  {'; '.join(r.notes)}"
        )
        if r.scenario == "room + badges live":
            kept = ratio <= RATIO_MAX and r.delivered == r.expected
            verdicts.append(f"{r.layer}: with badges {ratio:.2f}x the CPU per frame ({'kept' if kept else 'BROKEN'})")
    return lines + verdicts


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    db = Database()
    cookies = db.cookies(db.users(MEMBERS + 1))
    results = asyncio.run(run_all(cookies[:MEMBERS], cookies[MEMBERS]))
    lines = report(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    layers = "memory+redis" if os.environ.get("REDIS_URL") else "memory"
    out = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}-unread-{layers}.json"
    out.write_text(json.dumps({"members": MEMBERS, "results": [asdict(r) for r in results], "report": lines}, indent=1))
    print()
    print("\n".join(lines))
    print(f"\nwritten to {out.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
