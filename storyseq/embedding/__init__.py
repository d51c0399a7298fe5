"""embed: the frozen encoders, the streaming that runs them once, and the feature cache that later stages read."""
