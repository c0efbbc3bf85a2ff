/* The static public site: filters, list, detail, news, URL; the map is driven through
 * window.cartoInitiatives (carto.map.markers). Initiative text is only ever set with
 * textContent. The filter rules are ports of carto.text.fold and carto.filters (FilterSpec,
 * clean_search_text, search_terms, query_day) and of carto.timeline (is_ended, is_active_in):
 * the Python side prepares the folded search text of each row, so only the query is folded
 * here, with tables read from Python's unicodedata. « Ended » is judged on the visitor's day
 * in France, as the dashboard does. */
(function () {
  "use strict";

  var PARAMS = {categories: "categorie", arrondissements: "arrondissement",
                communes: "commune", text: "q", selected: "id", embed: "embed",
                start: "du", end: "au", ended: "terminees"};
  var YES = ["1", "oui", "true"];  // carto.filters._YES

  // --- days, as carto.timeline.parse_day reads them (ISO text) ---------------------------------

  function pad(n, width) { var s = String(n); while (s.length < width) { s = "0" + s; } return s; }

  function isoDay(y, m, d) {
    return y < 1 || y > 9999 ? null : pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2);
  }

  function isLeap(y) { return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0); }

  function monthDays(y, m) { return [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]; }

  // carto.timeline.parse_day: a real day written YYYY-MM-DD, nothing else.
  function fromIsoDay(text) {
    var m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(text);
    if (!m) { return null; }
    var y = +m[1], mo = +m[2], d = +m[3];
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > monthDays(y, mo)) { return null; }
    return isoDay(y, mo, d);
  }

  // Today in France (carto.timeline.local_today), as ISO text.
  function franceToday() {
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", {timeZone: "Europe/Paris", year: "numeric",
                                         month: "2-digit", day: "2-digit"})
        .formatToParts(new Date()).forEach(function (p) { parts[p.type] = p.value; });
      return isoDay(+parts.year, +parts.month, +parts.day);
    } catch (e) {
      var now = new Date();
      return isoDay(now.getFullYear(), now.getMonth() + 1, now.getDate());
    }
  }

  function makeCore(D, options) {
    options = options || {};
    var today = options.today || franceToday();
    var time = D.time || {ended: "terminee", labels: {}};
    var F = D.fold;
    var spaces = new Set(F.spaces);
    var ligatures = F.ligatures;
    var casefolds = F.casefold;
    var combining = F.combining;
    var has = Object.prototype.hasOwnProperty;

    function isCombining(cp) {
      var lo = 0, hi = combining.length - 1;
      while (lo <= hi) {
        var mid = (lo + hi) >> 1, r = combining[mid];
        if (cp < r[0]) { hi = mid - 1; } else if (cp > r[1]) { lo = mid + 1; } else { return true; }
      }
      return false;
    }

    // Python's str.split(): runs of Unicode whitespace (str.isspace) separate the words.
    function splitWords(text) {
      var out = [], cur = "";
      for (var ch of text) {
        if (spaces.has(ch.codePointAt(0))) {
          if (cur) { out.push(cur); cur = ""; }
        } else {
          cur += ch;
        }
      }
      if (cur) { out.push(cur); }
      return out;
    }

    function casefold(text) {
      var out = "";
      for (var ch of text) { out += has.call(casefolds, ch) ? casefolds[ch] : ch.toLowerCase(); }
      return out;
    }

    // carto.text.fold: NFKC, casefold, NFKD, combining marks dropped, ligatures spelled out.
    function fold(text) {
      var s = casefold(String(text).normalize("NFKC")).normalize("NFKD"), out = "";
      for (var ch of s) {
        if (isCombining(ch.codePointAt(0))) { continue; }
        out += has.call(ligatures, ch) ? ligatures[ch] : ch;
      }
      return out;
    }

    function codePoints(text) { return Array.from(text); }

    // Python's str.strip(): Unicode whitespace (str.isspace) at both ends.
    function strip(text) {
      var chars = codePoints(text), a = 0, b = chars.length;
      while (a < b && spaces.has(chars[a].codePointAt(0))) { a++; }
      while (b > a && spaces.has(chars[b - 1].codePointAt(0))) { b--; }
      return chars.slice(a, b).join("");
    }

    // carto.filters.query_day: a day from a link, null when absent or not a real ISO day.
    function queryDay(text) {
      text = strip(String(text));
      return codePoints(text).length === 10 ? fromIsoDay(text) : null;
    }

    // carto.timeline.is_ended / is_active_in, on the stored text (ISO days compare as text).
    function isEnded(r) { return r.statut === time.ended || (r.fin !== "" && r.fin < today); }

    function activeIn(r, start, end) {
      if (r.debut && end !== null && r.debut > end) { return false; }
      return !(r.fin && start !== null && r.fin < start);
    }

    // carto.timeline.statut_label
    function statusLabel(r) {
      if (isEnded(r)) { return time.labels[time.ended] || ""; }
      return Object.prototype.hasOwnProperty.call(time.labels, r.statut) ? time.labels[r.statut] : "";
    }

    // carto.filters.clean_search_text
    function cleanSearchText(text, limit) {
      limit = limit === undefined ? F.maxQuery : limit;
      var kept = [], seen = new Set(), seenRaw = new Set(), length = -1;
      var words = splitWords(String(text));
      for (var i = 0; i < words.length; i++) {
        var word = words[i];
        if (seenRaw.has(word)) { continue; }
        seenRaw.add(word);
        var folded = fold(word);
        if (seen.has(folded)) { continue; }
        var n = codePoints(word).length;
        if (length + 1 + n > limit) {
          if (!kept.length) { kept.push(codePoints(word).slice(0, limit).join("")); }
          break;
        }
        seen.add(folded);
        kept.push(word);
        length += 1 + n;
      }
      return kept.join(" ");
    }

    // carto.filters.search_terms (the order does not matter: a row must contain them all)
    function searchTerms(text) {
      var unique = Array.from(new Set(splitWords(fold(cleanSearchText(text)))));
      return unique.filter(function (t) {
        return !unique.some(function (o) { return t !== o && o.indexOf(t) >= 0; });
      });
    }

    var known = {
      categories: new Set(D.categories.map(function (c) { return c.code; })),
      arrondissements: new Set(D.arrondissements.map(function (a) { return a.code; })),
      communes: new Set(D.communes.map(function (c) { return c.code; }))
    };

    // FilterSpec.from_query: comma-separated or repeated values, unknown ones dropped.
    function fromQuery(params) {
      function values(name, allowed) {
        var out = [];
        params.getAll(name).forEach(function (item) {
          String(item).split(",").forEach(function (v) {
            if (v && (!allowed.size || allowed.has(v)) && out.indexOf(v) < 0) { out.push(v); }
          });
        });
        return out;
      }
      function first(name) {
        var all = params.getAll(name);
        return all.length ? String(all[0]) : "";
      }
      return withPeriod({
        categories: values(PARAMS.categories, known.categories),
        arrondissements: values(PARAMS.arrondissements, known.arrondissements),
        communes: values(PARAMS.communes, known.communes),
        text: cleanSearchText(first(PARAMS.text)),
        start: queryDay(first(PARAMS.start)),
        end: queryDay(first(PARAMS.end)),
        showEnded: YES.indexOf(strip(first(PARAMS.ended)).toLowerCase()) >= 0
      });
    }

    // FilterSpec.__post_init__: a period given the wrong way round is put right.
    function withPeriod(spec) {
      if (spec.start !== null && spec.end !== null && spec.start > spec.end) {
        var start = spec.end;
        spec.end = spec.start;
        spec.start = start;
      }
      return spec;
    }

    function anyIn(codes, wanted) {
      for (var i = 0; i < codes.length; i++) { if (wanted.has(codes[i])) { return true; } }
      return false;
    }

    // One test per active filter; `skip` leaves one out (facet counts).
    function tests(spec, skip) {
      var out = [];
      if (spec.categories.length && skip !== "categories") {
        var c = new Set(spec.categories);
        out.push(function (r) { return c.has(r.categorie); });
      }
      if (spec.arrondissements.length && skip !== "arrondissements") {
        var a = new Set(spec.arrondissements);
        out.push(function (r) { return anyIn(r.arr, a); });
      }
      if (spec.communes.length && skip !== "communes") {
        var m = new Set(spec.communes);
        out.push(function (r) { return anyIn(r.com, m); });
      }
      if (spec.start !== null || spec.end !== null) {
        out.push(function (r) { return activeIn(r, spec.start, spec.end); });
      }
      if (!spec.showEnded) {
        out.push(function (r) { return !isEnded(r); });
      }
      var terms = searchTerms(spec.text);
      if (terms.length) {
        out.push(function (r) {
          return terms.every(function (t) { return r.hay.indexOf(t) >= 0; });
        });
      }
      return out;
    }

    function filterRows(spec, skip) {
      var t = tests(spec, skip);
      return D.rows.filter(function (r) { return t.every(function (f) { return f(r); }); });
    }

    // carto.filters.facets: each filter's counts within the rows the other filters keep.
    function facets(spec) {
      function count(field, codesOf) {
        var counts = {};
        filterRows(spec, field).forEach(function (r) {
          new Set(codesOf(r)).forEach(function (code) {
            if (code) { counts[code] = (counts[code] || 0) + 1; }
          });
        });
        return counts;
      }
      return {
        categories: count("categories", function (r) { return [r.categorie]; }),
        arrondissements: count("arrondissements", function (r) { return r.arr; }),
        communes: count("communes", function (r) { return r.com; })
      };
    }

    function isEmpty(spec) {
      return !(spec.categories.length || spec.arrondissements.length ||
               spec.communes.length || spec.text || spec.start || spec.end || spec.showEnded);
    }

    // carto.ui.map_view.hidden_ended_count: the ended initiatives the view leaves out.
    function hiddenEnded(spec) {
      return spec.showEnded ? 0 : D.rows.filter(isEnded).length;
    }

    return {fold: fold, cleanSearchText: cleanSearchText, searchTerms: searchTerms,
            fromQuery: fromQuery, withPeriod: withPeriod, queryDay: queryDay,
            filterRows: filterRows, facets: facets, isEmpty: isEmpty, isEnded: isEnded,
            statusLabel: statusLabel, hiddenEnded: hiddenEnded, today: today};
  }

  if (typeof module !== "undefined" && module.exports) {
    module.exports = {makeCore: makeCore};
  }
  if (typeof document === "undefined" || !window.cartoSiteData) { return; }

  // --- the page ------------------------------------------------------------------------------

  var D = window.cartoSiteData;
  var core = makeCore(D);
  var byId = new Map(D.rows.map(function (r) { return [r.id, r]; }));
  var params = new URLSearchParams(window.location.search);
  var embed = params.get(PARAMS.embed) === "1";
  var spec = core.fromQuery(params);
  var selected = null;
  var api = null;
  var $ = function (id) { return document.getElementById(id); };

  if (embed) { document.body.classList.add("embed"); }

  var groups = [
    {field: "categories", box: $("f-categorie"), options: D.categories},
    {field: "arrondissements", box: $("f-arrondissement"), options: D.arrondissements},
    {field: "communes", box: $("f-commune"), options: D.communes}
  ];

  function buildFilters() {
    groups.forEach(function (g) {
      var holder = g.box.querySelector(".choices");
      g.labels = {};
      g.inputs = {};
      g.options.forEach(function (o, i) {
        var label = document.createElement("label");
        var input = document.createElement("input");
        input.type = "checkbox";
        input.value = o.code;
        input.id = g.box.id + "-" + i;
        input.checked = spec[g.field].indexOf(o.code) >= 0;
        input.addEventListener("change", onFilterChange);
        var text = document.createElement("span");
        label.htmlFor = input.id;
        label.appendChild(input);
        label.appendChild(text);
        holder.appendChild(label);
        g.labels[o.code] = text;
        g.inputs[o.code] = input;
      });
    });
    $("q").value = spec.text;
    $("du").value = spec.start || "";
    $("au").value = spec.end || "";
    $("terminees").checked = spec.showEnded;
    ["du", "au", "terminees"].forEach(function (id) {
      $(id).addEventListener("change", onFilterChange);
    });
  }

  function readFilters() {
    var next = {
      text: core.cleanSearchText($("q").value),
      // A date field gives "" or a day; query_day's rules all the same.
      start: core.queryDay($("du").value),
      end: core.queryDay($("au").value),
      showEnded: $("terminees").checked
    };
    groups.forEach(function (g) {
      next[g.field] = g.options.filter(function (o) { return g.inputs[o.code].checked; })
        .map(function (o) { return o.code; });
    });
    return core.withPeriod(next);
  }

  function updateUrl() {
    var p = new URLSearchParams();
    if (embed) { p.set(PARAMS.embed, "1"); }
    groups.forEach(function (g) {
      spec[g.field].forEach(function (v) { p.append(PARAMS[g.field], v); });
    });
    if (spec.text) { p.set(PARAMS.text, spec.text); }
    if (spec.start) { p.set(PARAMS.start, spec.start); }
    if (spec.end) { p.set(PARAMS.end, spec.end); }
    if (spec.showEnded) { p.set(PARAMS.ended, "1"); }
    if (selected) { p.set(PARAMS.selected, selected); }
    var query = p.toString();
    try {
      window.history.replaceState(null, "", query ? "?" + query : window.location.pathname);
    } catch (e) { /* some browsers refuse it under file:// */ }
  }

  function plural(n, one, many) { return n + " " + (n > 1 ? many : one); }

  function renderCounts() {
    var f = core.facets(spec);
    groups.forEach(function (g) {
      g.options.forEach(function (o) {
        g.labels[o.code].textContent = o.label + " (" + (f[g.field][o.code] || 0) + ")";
      });
    });
  }

  var shown = [];

  function renderList() {
    var list = $("liste-initiatives");
    list.textContent = "";
    shown.forEach(function (r) {
      var li = document.createElement("li");
      li.dataset.id = r.id;
      if (r.id === selected) { li.setAttribute("aria-current", "true"); }
      var h = document.createElement("h3");
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = r.nom || r.id;
      b.addEventListener("click", function () { choose(r.id, "list"); });
      h.appendChild(b);
      if (r.nouveau) { h.appendChild(document.createTextNode(" ")); h.appendChild(newBadge()); }
      li.appendChild(h);
      var meta = document.createElement("p");
      meta.className = "item-meta";
      var sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = r.color;
      sw.setAttribute("aria-hidden", "true");
      meta.appendChild(sw);
      var place = r.portee !== "Commune" && r.zone ? r.zone : r.commune;
      var bits = [r.categorieLabel, place].filter(Boolean);
      if (core.isEnded(r)) { bits.push(core.statusLabel(r)); }
      if (!r.placed) { bits.push("sans position sur la carte"); }
      meta.appendChild(document.createTextNode(bits.join(" · ")));
      li.appendChild(meta);
      list.appendChild(li);
    });
    var n = shown.length, total = D.rows.length;
    $("compte").textContent = n === total
      ? plural(n, "initiative", "initiatives")
      : plural(n, "initiative affichée", "initiatives affichées") + " sur " + total;
    $("vide").hidden = n > 0;
    // The dashboard's words (carto.ui.map_view.shown_caption, empty_result_notice).
    var hidden = core.hiddenEnded(spec);
    $("masquees").hidden = !hidden;
    $("masquees").textContent = hidden ? (hidden === 1
      ? "1 initiative terminée n'est pas affichée"
      : hidden + " initiatives terminées ne sont pas affichées") +
      (embed ? "." : " (filtre « Afficher aussi les initiatives terminées »).") : "";
    $("vide-terminees").textContent = hidden ? (hidden === 1
      ? "1 initiative terminée est masquée"
      : hidden + " initiatives terminées sont masquées") +
      (embed ? "." : " : cochez « Afficher aussi les initiatives terminées » dans les filtres " +
       "pour les voir.") : "";
  }

  function newBadge() {
    var badge = document.createElement("span");
    badge.className = "badge-new";
    badge.textContent = "Nouveau";
    return badge;
  }

  function placedIds(rows) {
    return rows.filter(function (r) { return r.placed; }).map(function (r) { return r.id; });
  }

  // carto.ui.map_view.view_area: the outline of the chosen communes, else arrondissements
  // (from the page's own outlines, window.cartoSiteOutlines); null when none is chosen.
  function placeBounds() {
    var communes = spec.communes.length > 0;
    var codes = new Set(communes ? spec.communes : spec.arrondissements);
    var key = communes ? "code_insee" : "code";
    if (!codes.size || typeof L === "undefined") { return null; }
    var found = [];
    (window.cartoSiteOutlines || []).forEach(function (collection) {
      ((collection && collection.features) || []).forEach(function (f) {
        var p = f.properties || {};
        if (p[key] !== undefined && codes.has(String(p[key]))) { found.push(f); }
      });
    });
    if (!found.length) { return null; }
    var bounds = L.geoJSON({type: "FeatureCollection", features: found}).getBounds();
    return bounds.isValid() ? bounds : null;
  }

  function showOnMap(fit) {
    if (!api) { return; }
    // A place filter shows that place, not where its initiatives are anchored (an area
    // initiative's point is its zone's seat): « Saint-Omer » is not Béthune–Arras.
    var area = fit ? placeBounds() : null;
    // Every initiative (null) only when none is left out: ended ones are hidden by default.
    api.show(shown.length === D.rows.length ? null : placedIds(shown), {fit: fit && !area});
    var map = area ? leafletMap() : null;
    if (map) { map.fitBounds(area, {padding: [20, 20], maxZoom: 13, animate: false}); }
  }

  function render(fit) {
    shown = core.filterRows(spec);
    renderCounts();
    renderList();
    showOnMap(fit);
  }

  function onFilterChange() {
    spec = readFilters();
    render(true);
    updateUrl();
  }

  function renderDetail() {
    var box = $("detail");
    var r = selected ? byId.get(selected) : null;
    if (!r) { box.hidden = true; return; }
    $("detail-nom").textContent = r.nom || r.id;
    $("detail-badges").textContent = "";
    if (r.nouveau) { $("detail-badges").appendChild(newBadge()); }
    $("detail-badges").hidden = !r.nouveau;
    $("detail-description").textContent = r.description;
    $("detail-description").hidden = !r.description;
    var dl = $("detail-lignes");
    dl.textContent = "";
    // carto.display.detail_lines with `today`: « Statut » after « Période », before the check
    // and the source; it depends on the visitor's day, so it is written here.
    var lines = r.details.slice(), status = core.statusLabel(r);
    if (status) {
      var at = lines.findIndex(function (l) { return l[0] === "Vérifiée le" || l[0] === "Source"; });
      lines.splice(at < 0 ? lines.length : at, 0, ["Statut", status, null]);
    }
    lines.forEach(function (line) {
      var dt = document.createElement("dt");
      dt.textContent = line[0];
      var dd = document.createElement("dd");
      if (line[2]) {
        var a = document.createElement("a");
        a.href = line[2];
        a.textContent = line[1];
        if (/^https?:/i.test(line[2])) { a.rel = "noopener noreferrer"; a.target = "_blank"; }
        dd.appendChild(a);
      } else {
        dd.textContent = line[1];
      }
      dl.appendChild(dt);
      dl.appendChild(dd);
    });
    if (!r.placed) {
      var dt2 = document.createElement("dt"), dd2 = document.createElement("dd");
      dt2.textContent = "Carte";
      dd2.textContent = "Pas de position connue : cette initiative n'est pas sur la carte.";
      dl.appendChild(dt2);
      dl.appendChild(dd2);
    }
    box.hidden = false;
  }

  function markList() {
    var items = $("liste-initiatives").children;
    for (var i = 0; i < items.length; i++) {
      if (items[i].dataset.id === selected) {
        items[i].setAttribute("aria-current", "true");
      } else {
        items[i].removeAttribute("aria-current");
      }
    }
  }

  function choose(id, from) {
    selected = id && byId.has(id) ? id : null;
    renderDetail();
    markList();
    if (api && from !== "map") { api.select(selected, {pan: true}); }
    if (selected && from !== "url") {
      $("detail").scrollIntoView({block: "nearest"});
      $("detail-nom").focus({preventScroll: true});
    }
    updateUrl();
  }

  function closeDetail() {
    var was = selected;
    choose(null, "list");
    var item = $("liste-initiatives").querySelector('li[data-id="' + CSS.escape(was || "") + '"] button');
    if (item) { item.focus(); } else { $("liste").focus(); }
  }

  function reset(event) {
    if (event) { event.preventDefault(); }
    groups.forEach(function (g) {
      g.options.forEach(function (o) { g.inputs[o.code].checked = false; });
    });
    $("q").value = "";
    $("du").value = "";
    $("au").value = "";
    $("terminees").checked = false;
    onFilterChange();
  }

  // « Nouveautés »: the latest publication, the earlier ones folded (carto.timeline.lines_fr).
  function newsEntry(entry, level) {
    var box = document.createElement("article");
    box.className = "news-entry";
    var h = document.createElement(level);
    h.textContent = entry.title + " (version " + entry.number + ")";
    box.appendChild(h);
    if (entry.note) {
      var note = document.createElement("p");
      note.className = "news-note";
      note.textContent = "Note : " + entry.note;
      box.appendChild(note);
    }
    var ul = document.createElement("ul");
    entry.lines.forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      ul.appendChild(li);
    });
    box.appendChild(ul);
    return box;
  }

  function renderNews() {
    var news = D.news || [];
    $("nouveautes").hidden = !news.length;
    $("lien-nouveautes").hidden = !news.length;
    if (!news.length) { return; }
    $("nouveautes-derniere").appendChild(newsEntry(news[0], "h3"));
    var older = news.slice(1);
    $("nouveautes-anciennes").hidden = !older.length;
    $("nouveautes-anciennes").querySelector("summary").textContent =
      "Publications précédentes (" + older.length + ")";
    older.forEach(function (entry) { $("nouveautes-liste").appendChild(newsEntry(entry, "h3")); });
  }

  function leafletMap() {
    if (typeof L === "undefined") { return null; }
    var keys = Object.keys(window);
    for (var i = 0; i < keys.length; i++) {
      if (/^map_[0-9a-f]{32}$/.test(keys[i]) && window[keys[i]] instanceof L.Map) {
        return window[keys[i]];
      }
    }
    return null;
  }

  function bindMap() {
    if (api || !window.cartoInitiatives) { return; }
    api = window.cartoInitiatives;
    api.onSelect(function (id) { choose(id, "map"); });
    showOnMap(!core.isEmpty(spec));
    if (selected) { api.select(selected, {pan: true}); }
  }

  function start() {
    buildFilters();
    var wanted = params.get(PARAMS.selected);
    if (wanted) {
      if (byId.has(wanted)) {
        selected = wanted;
      } else {
        var notice = $("notice");
        notice.textContent = "Aucune initiative ne porte l'identifiant « " + wanted +
          " » : elle a peut-être été retirée de la carte. Toutes les initiatives sont affichées.";
        notice.hidden = false;
      }
    }
    render(false);
    renderDetail();
    renderNews();
    var timer = null;
    $("q").addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(onFilterChange, 250);
    });
    $("filtres-form").addEventListener("submit", function (e) { e.preventDefault(); onFilterChange(); });
    $("reset").addEventListener("click", reset);
    $("vide-reset").addEventListener("click", reset);
    $("vide-reset").href = embed ? "?embed=1" : "?";
    $("detail-fermer").addEventListener("click", closeDetail);
    var small = window.matchMedia("(max-width: 820px)").matches;
    if (small) {
      $("filtres").open = false;
      document.querySelectorAll(".carto-legend details").forEach(function (d) { d.open = false; });
    }
    // Leaflet makes every outline with a tooltip a Tab stop (about 900 communes before the
    // list): the outlines are the basemap, their names are written on it, so they leave the
    // Tab order; the markers and the list stay in it.
    document.querySelectorAll(".carto-commune, .carto-arrondissement").forEach(function (el) {
      el.setAttribute("tabindex", "-1");
    });
    var map = leafletMap();
    if (map) {
      map.invalidateSize();
      map.attributionControl.addAttribution(D.attribution.split(" — ")[0]);
      if (window.matchMedia("(pointer: coarse)").matches) {
        // One finger scrolls the page; two fingers (pinch) move and zoom the map.
        map.dragging.disable();
      }
    }
    document.addEventListener("carto:initiatives-ready", bindMap);
    bindMap();
    if (selected) { updateUrl(); }
  }

  start();
})();
