"""Volunteers as people: registration, skills, team membership, hours served and their certificate."""
