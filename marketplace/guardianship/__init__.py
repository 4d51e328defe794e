"""Guardianship: assessments (监护评估), entrusted, temporary state and long-term guardianship."""
