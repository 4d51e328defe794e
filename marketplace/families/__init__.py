"""Left-behind children's parents: where they work, how to reach them, contact and visits home."""
