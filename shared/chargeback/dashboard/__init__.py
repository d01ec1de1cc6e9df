"""The dashboard: one self-contained HTML page of the whole organisation over the last months (inline SVG
charts, inline CSS, no scripts, nothing fetched), in English or Chinese; built from the months' cost
summaries, their manifests (free quota) and the alert state (anomalies), published by the daily job."""
