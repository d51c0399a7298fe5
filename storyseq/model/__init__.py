"""train: the story model (projections, fused LSTM, image and text decoders), its losses and the training loop."""
