"""十防 safety checklists and graded warnings (分级预警)."""
