"""The Streamlit layer, the only package that imports streamlit; pages/ call its modules.

caches       st.cache_* wrappers: settings, gazetteer, store, published data, marker files…
french       Streamlit's own English relabelled in French (every page)
errors       a French message instead of a traceback (stop_on_error, on_script_error)
selection    the selected initiative, kept in one place
map_view     the public map page's widgets: filters, map, table, detail panel, downloads
signin       editors' sign-in (built-in accounts or single sign-on)
import_page  editors' import: upload, report, corrections, review, publish
versions     history of published versions and rollback
routes       HTTP routes added to Streamlit's server (the map's data files)
"""

from __future__ import annotations

PAGE_TITLE = "Carto solidaire"
