"""Lightning callbacks that act on a fine-tuned model: head importance, masked curves."""
