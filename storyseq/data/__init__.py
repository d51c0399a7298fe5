"""fetch and window: story sources (the hub, parquet, the synthetic benchmark), the <gdi> markup, and windows with story-level splits."""
