"""The map shared by the dashboard and the static site: basemap, markers, assets."""
