"""The embedded demo: bills and a mapping shipped with the package, so one command shows the whole pipeline."""
