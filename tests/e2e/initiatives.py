"""Reaching initiatives on the map as a visitor does: markers grouped in clusters
(carto.map.markers) are opened by clicking the clusters that hold them, then the marker.

The page's layer keeps its state in `window.__cartoInitiativesState`; the helpers read it only to
know *where* an initiative is (which cluster holds it). Every action is a real pointer click or
key press.
"""

from __future__ import annotations

from typing import Any

from carto.map.markers import CLUSTER_CLASS, MARKER_CLASS

TARGET = "data-carto-test"

# Marks the element a visitor would click to reach initiative `id`: its marker when it is on
# screen, else the cluster that holds it; returns "marker", "cluster", "hidden" or "absent".
_MARK_TARGET = """(body, id) => {
    const s = window.__cartoInitiativesState, m = s && s.byId[id];
    document.querySelectorAll("[%(attr)s]").forEach((e) => e.removeAttribute("%(attr)s"));
    if (!m || !s.visible.has(m)) { return "absent"; }
    const inView = (layer) => s.map.getBounds().contains(layer.getLatLng());
    const el = m.getElement();
    if (el && inView(m)) { el.setAttribute("%(attr)s", "1"); return "marker"; }
    const parent = s.mcg.getVisibleParent(m);
    if (parent && parent !== m && parent.getElement() && inView(parent)) {
        parent.getElement().setAttribute("%(attr)s", "1");
        return "cluster";
    }
    return "hidden";
}""".replace("%(attr)s", TARGET)


def drawn_count(frame: Any) -> int:
    """How many initiatives the map layer holds (clustered or not); -1 before it is drawn."""
    return int(frame.locator("body").evaluate("() => window.cartoMarkerCount ?? -1"))


def wait_drawn(frame: Any, count: int, *, timeout_ms: int = 15_000) -> None:
    frame.locator("body").evaluate(
        """(body, [count, timeout]) => new Promise((resolve, reject) => {
            const start = Date.now();
            (function check() {
                if (window.cartoMarkerCount === count) { resolve(); }
                else if (Date.now() - start > timeout) {
                    reject(new Error("cartoMarkerCount=" + window.cartoMarkerCount));
                } else { setTimeout(check, 50); }
            })();
        })""",
        [count, timeout_ms],
    )


def markers(frame: Any) -> Any:
    """The initiative markers currently in the page (not those inside clusters)."""
    return frame.locator(f".{MARKER_CLASS}")


def clusters(frame: Any) -> Any:
    return frame.locator(f".{CLUSTER_CLASS}")


def reveal_by_pointer(frame: Any, ident: str, *, max_clicks: int = 20) -> Any:
    """Click clusters (or zoom out) until the marker of `ident` is on screen; return it."""
    for _ in range(max_clicks):
        kind = frame.locator("body").evaluate(_MARK_TARGET, ident)
        target = frame.locator(f"[{TARGET}]")
        if kind == "marker":
            return target
        if kind == "cluster":
            target.click()
        elif kind == "hidden":
            frame.locator(".leaflet-control-zoom-out").click()
        else:
            raise AssertionError(f"initiative absente de la carte : {ident}")
        wait_still(frame)
    raise AssertionError(f"initiative {ident} non atteinte en {max_clicks} clics")


def wait_still(frame: Any) -> None:
    """Wait until the map has finished zooming, panning and spreading clusters."""
    frame.locator("body").evaluate(
        """() => new Promise((resolve, reject) => {
            const s = window.__cartoInitiativesState, start = Date.now();
            let calm = 0;
            (function check() {
                const busy = s.map._animatingZoom || s.mcg._inZoomAnimation
                    || (s.map._panAnim && s.map._panAnim._inProgress)
                    || document.querySelector(".leaflet-cluster-anim");
                calm = busy ? 0 : calm + 1;
                if (calm >= 3) { resolve(); }
                else if (Date.now() - start > 10000) { reject(new Error("la carte bouge encore")); }
                else { setTimeout(check, 50); }
            })();
        })"""
    )


def open_by_pointer(frame: Any, ident: str) -> None:
    """Reach the marker of `ident` through its clusters and click it."""
    reveal_by_pointer(frame, ident).click()
