"""A visitor without a browser: a websocket client of Streamlit's protocol (bench/sessions.py).

It speaks Streamlit's own protocol (protobuf BackMsg/ForwardMsg on
/_stcore/stream, localhost only): it asks for a page run, reads every message until the run
finishes, then sends the category filter as a widget change and waits for that run too. It costs
the server what a browser costs it, without 10,000 SVG paths to draw on the same two cores.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

FILTER_KEY = "f_categories"
NARROW = ["soignants"]


@dataclass
class SocketRun:
    open_s: float = float("nan")
    filter_s: float = float("nan")
    open_bytes: int = 0
    filter_bytes: int = 0
    errors: list[str] = field(default_factory=list)


async def _until_finished(ws: Any, *, timeout_s: float) -> tuple[int, str | None, list[str]]:
    """Read ForwardMsgs until the script run ends: (bytes, filter widget id, errors)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    total, widget_id, errors = 0, None, []
    deadline = time.monotonic() + timeout_s
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.monotonic()))
        total += len(raw)
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            element_kind = element.WhichOneof("type")
            if element_kind == "exception":
                errors.append(f"exception : {element.exception.message[:200]}")
            elif element_kind == "multiselect" and FILTER_KEY in element.multiselect.id:
                widget_id = element.multiselect.id
        elif kind == "script_finished":
            if msg.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                errors.append(f"fin de script : {msg.script_finished}")
            return total, widget_id, errors


async def socket_viewer(port: int, *, timeout_s: float) -> SocketRun:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from websockets.asyncio.client import connect

    run = SocketRun()
    try:
        start = time.perf_counter()
        async with connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            subprotocols=["streamlit"],  # type: ignore[list-item]
            max_size=None,
            open_timeout=timeout_s,
        ) as ws:
            first = BackMsg()
            first.rerun_script.query_string = ""
            await ws.send(first.SerializeToString())
            run.open_bytes, widget_id, errors = await _until_finished(ws, timeout_s=timeout_s)
            run.open_s = time.perf_counter() - start
            run.errors.extend(errors)
            if widget_id is None:
                run.errors.append("filtre des catégories introuvable dans la page")
                return run
            change = BackMsg()
            change.rerun_script.query_string = ""
            state = change.rerun_script.widget_states.widgets.add()
            state.id = widget_id
            state.string_array_value.data.extend(NARROW)
            start = time.perf_counter()
            await ws.send(change.SerializeToString())
            run.filter_bytes, _, errors = await _until_finished(ws, timeout_s=timeout_s)
            run.filter_s = time.perf_counter() - start
            run.errors.extend(errors)
    except Exception as error:
        run.errors.append(f"{type(error).__name__}: {str(error)[:200]}")
    return run
