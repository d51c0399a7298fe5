"""StoryReasoning-Multimodal: predict frame K+1 of a visual story from frames 1..K."""
