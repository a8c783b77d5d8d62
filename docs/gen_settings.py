"""Generate the settings page from `seasight.settings` (run by mkdocs-gen-files at build time)."""

import mkdocs_gen_files

from seasight.settings import settings_page

with mkdocs_gen_files.open("settings.md", "w") as page:
    page.write(settings_page())
mkdocs_gen_files.set_edit_path("settings.md", "../src/seasight/settings.py")
